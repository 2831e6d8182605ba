// The forkd daemon runtime: the lifecycle API over the native addon. Knows nothing of any server.
export { daemonize, Daemon, type DaemonOptions } from './daemonize';
export { control, LSB, type ControlCommand } from './control';
export { DaemonError, EX, reason } from './exit-codes';
export { parseAddress, formatAddress, type Address } from './address';
export { Logger } from './logger';
export { singleExecutable, dropInheritedNodeVariables } from './executable';
export { ServiceManager, stderrIsJournal, type ListenFd } from './service-manager';
