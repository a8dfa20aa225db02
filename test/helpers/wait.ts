/**
 * Waits until `check` is true (access log and metrics are written when the response has finished; the
 * access log is flushed in batches, at least every 200 ms). A check that throws (e.g. the log file is not
 * created yet) counts as not yet; the last error is reported at the deadline.
 */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let lastError: unknown = null;
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw lastError ?? new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
