/**
 * Default histogram buckets. They equal vLLM's own for the same quantity
 * (vllm/v1/metrics/loggers.py), so proxy-side and server-side quantiles line up.
 */

/** vLLM `vllm:time_to_first_token_seconds`. */
export const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
  80.0, 160.0, 640.0, 2560.0,
];

/** vLLM `vllm:time_per_output_token_seconds` and `vllm:inter_token_latency_seconds`. */
export const TPOT_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];

/** vLLM `vllm:e2e_request_latency_seconds`. */
export const E2E_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0,
  1920.0, 7680.0,
];

/** vLLM's `build_1_2_5_buckets(max_model_len)`: 1, 2, 5, 10, 20, 50, … up to max. */
export function oneTwoFiveBuckets(max: number): number[] {
  const out: number[] = [];
  for (let exp = 1; ; exp *= 10) {
    for (const m of [1, 2, 5]) {
      if (m * exp > max) return out;
      out.push(m * exp);
    }
  }
}

/** vLLM `vllm:request_prompt_tokens` / `vllm:request_generation_tokens` for max_model_len 32768. */
export const TOKEN_BUCKETS = oneTwoFiveBuckets(32_768);
