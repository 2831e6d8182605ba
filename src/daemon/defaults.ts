// The runtime's defaults, each decided here once: daemonize() applies them, --help, the man page
// and the packaged units read them.

/** How long the starting parent waits for ready() before it stops the child (--ready-timeout). */
export const READY_TIMEOUT_MS = 30_000;

/** The daemon's working directory (--chdir). */
export const CHDIR = '/';

/** After SIGTERM to a start-up the parent abandons (timeout, Ctrl-C), how long before SIGKILL. */
export const STOP_GRACE_MS = 5_000;

/** The bound on a graceful stop (the stop hooks) before the daemon exits anyway. */
export const STOP_TIMEOUT_MS = 10_000;
