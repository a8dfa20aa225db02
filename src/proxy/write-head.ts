/** Writing the upstream's status and headers to the client when Node refuses some of them. */
import { validateHeaderName, validateHeaderValue, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';

/**
 * `writeHead`, and when Node refuses a header (a name or value with bytes it will not write), the same
 * without the headers it refuses, each dropped with a log line naming the header (never its value). The
 * client gets the response either way. Node validates before anything is sent, so the second call starts
 * clean; the common case costs one try.
 */
export function writeHeadKeepingValid(outgoing: ServerResponse, status: number, headers: OutgoingHttpHeaders): void {
  try {
    outgoing.writeHead(status, headers);
    return;
  } catch (err) {
    if (outgoing.headersSent) throw err;
  }
  outgoing.writeHead(status, validHeaders(headers, (name) => console.error(`tokentap: dropped upstream response header ${JSON.stringify(name)}: Node refuses its name or value`)));
}

/** The headers Node accepts; `dropped` is told the name of each one it does not. Pure apart from `dropped`. */
export function validHeaders(headers: OutgoingHttpHeaders, dropped: (name: string) => void): OutgoingHttpHeaders {
  const kept: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value as string); // (it takes numbers and arrays too)
      kept[name] = value;
    } catch {
      dropped(name);
    }
  }
  return kept;
}
