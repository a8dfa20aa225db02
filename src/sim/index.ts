export { startSimulator, type RunningSim, type SimStats } from './server.js';
export { runSimCli, parseSimArgs, SIM_USAGE } from './cli.js';
export { FAULT_NAMES, SIM_DEFAULTS, SIM_HEADERS, type FaultName, type SimOptions, type ReasoningField } from './options.js';
