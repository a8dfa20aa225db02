/** Starts tokentap on loopback, port 0 for both ports, the access log off unless `extra` says otherwise. */
import { startTokentap, type RunningTokentap } from '../../src/server.js';

export function startTap(upstream: string, extra: Record<string, unknown> = {}): Promise<RunningTokentap> {
  return startTokentap({ upstream, host: '127.0.0.1', port: 0, metrics_host: '127.0.0.1', metrics_port: 0, access_log: 'off', ...extra });
}
