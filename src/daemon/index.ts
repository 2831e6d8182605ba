// The forkd daemon runtime: the lifecycle API over the native addon. Knows nothing of any server.

export { type Address, formatAddress, parseAddress } from './address';
export { asset, assetNames } from './assets';
export { configError, readTomlFile } from './config-file';
export type { ServerModule, ServerOptions, Setting } from './contract';
export { type ControlCommand, control, LSB } from './control';
export { Daemon, type DaemonOptions, daemonize } from './daemonize';
export { READY_TIMEOUT_MS } from './defaults';
export { dropInheritedNodeVariables, otherNode, singleExecutable } from './executable';
export { DaemonError, EX, reason } from './exit-codes';
export { Logger } from './logger';
export { type RestartOptions, restart } from './restart';
export { type ListenFd, ServiceManager, STORED_FD, stderrIsJournal } from './service-manager';
