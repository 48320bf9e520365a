/*
 * xenblkd-spdk's queue driver: queues of spdk disks run as SPDK pollers on
 * their channel's thread, polled by the reactors (spdk_reactor.h), which must
 * be started before it is installed.
 */
#ifndef DAEMON_SPDK_QUEUES_H
#define DAEMON_SPDK_QUEUES_H

void spdk_queues_install(void);
void spdk_queues_uninstall(void);

#endif
