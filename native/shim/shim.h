/*
 * The C shim the datapath plugin calls through ffi-rs to start, stop and
 * watch a backend daemon. The surface is kept to what ffi-rs handles well:
 * integers, strings in, and caller-owned buffers out (no returned strings,
 * no structs, no 64-bit values that JavaScript numbers could round).
 */
#ifndef SHIM_SHIM_H
#define SHIM_SHIM_H

/*
 * Starts `path` with the arguments in `args` (separated by '\n'; an empty
 * string for none) plus `--ready-fd 3`, in our environment with the
 * `NAME=value` lines of `env` added or replaced, in a new session, with SIGPIPE and
 * SIGXFSZ back to their defaults, an empty signal mask, stdin and stdout on
 * /dev/null, stderr appended to `log_path`, and no other descriptor of ours.
 * Waits up to `timeout_ms` for the daemon to write "ready" on fd 3.
 * Returns its pid, or -1 with a message (and the daemon's last log lines)
 * in `err` (`err_len` bytes, always NUL-terminated).
 */
int xbs_start(const char *path, const char *args, const char *env, const char *log_path, int timeout_ms, char *err,
	      int err_len);

/*
 * Stops the daemon `pid`, ours or started by an earlier process: SIGTERM,
 * up to `timeout_ms` to exit, then SIGKILL. Returns 0 once it is gone
 * (1 if it had to be killed), -1 with a message in `err` otherwise.
 */
int xbs_stop(int pid, int timeout_ms, char *err, int err_len);

/* 1 if `pid` lives (not a zombie) and runs a program whose file name is `exe_name`; else 0. */
int xbs_alive(int pid, const char *exe_name);

/*
 * Sends `request` (one JSON-RPC object) to the Unix socket `socket_path` and
 * reads the one-line answer into `response` (`response_len` bytes, NUL
 * terminated, without the newline), all within `timeout_ms`. Returns the
 * answer's length, or -1 with a message in `err`.
 */
int xbs_call(const char *socket_path, const char *request, int timeout_ms, char *response, int response_len,
	     char *err, int err_len);

#endif
