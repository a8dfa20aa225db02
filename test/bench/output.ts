/** Captures what the bench CLI writes to stdout and stderr (the report, notes, CI messages) until restore(). */
export function captureOutput(): { text: string; restore(): void } {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const cap = {
    text: '',
    restore: () => {
      process.stdout.write = out;
      process.stderr.write = err;
    },
  };
  const grab = ((chunk: string | Uint8Array) => {
    cap.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = grab;
  process.stderr.write = grab;
  return cap;
}
