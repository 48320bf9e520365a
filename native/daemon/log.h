/* The daemon's log: stderr (the datapath points it at the disk's log file), one line per event. */
#ifndef DAEMON_LOG_H
#define DAEMON_LOG_H

__attribute__((format(printf, 2, 3))) void log_line(const char *level, const char *fmt, ...);
#define log_info(...) log_line("info", __VA_ARGS__)
#define log_error(...) log_line("error", __VA_ARGS__)

#endif
