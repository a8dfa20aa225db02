/** A strict RFC 4180 parser (CRLF records, quoted fields, "" escapes): throws on anything else. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let i = 0;
  if (!text.endsWith('\r\n')) throw new Error('CSV does not end with CRLF');
  while (i < text.length) {
    const row: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q === -1) throw new Error(`unterminated quoted field at ${i}`);
          field += text.slice(i, q);
          if (text[q + 1] === '"') {
            field += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
      } else {
        const m = /[,\r\n"]/.exec(text.slice(i));
        const end = m ? i + m.index : text.length;
        if (text[end] === '"' || (text[end] === '\n' && text[end - 1] !== '\r')) throw new Error(`stray ${JSON.stringify(text[end])} at ${end}`);
        field = text.slice(i, end);
        i = end;
      }
      row.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text.startsWith('\r\n', i)) {
        i += 2;
        break;
      }
      throw new Error(`expected , or CRLF at ${i}, got ${JSON.stringify(text[i])}`);
    }
    rows.push(row);
  }
  return rows;
}
