// A client in its own process (as the review's was: in the proxy's process the race that loses the answer
// does not show): POSTs a body of `mib` MiB `runs` times with fetch(), content-length or chunked framing,
// and prints what each run got: the status, or the error code.
const [url, framing, mib, runs] = process.argv.slice(2);
const size = Number(mib) * 1024 * 1024;
const big = Buffer.alloc(size, 0x61);
const out = [];
for (let i = 0; i < Number(runs); i++) {
  const body =
    framing === 'chunked'
      ? new ReadableStream({
          start(c) {
            for (let o = 0; o < size; o += 1024 * 1024) c.enqueue(big.subarray(o, o + 1024 * 1024));
            c.close();
          },
        })
      : big;
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' });
    const text = await res.text();
    out.push(text.includes('"code":"request_too_large"') ? res.status : `${res.status}?`);
  } catch (err) {
    out.push(err.cause?.code ?? err.message);
  }
}
process.stdout.write(out.join(' '));
