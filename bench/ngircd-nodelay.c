/*
 * LD_PRELOAD shim for the ngircd peer benchmark (bench/ngircd-process.ts): ngircd 26 does
 * not set TCP_NODELAY on the sockets it accepts, the relay does (relay/server.ts). With
 * Nagle's algorithm on, ngircd's small writes to a receiver wait for the ACK of the previous
 * one, which measures the kernel's delayed ACK rather than the server. Built with the
 * system's C compiler when the benchmark runs; nothing else changes in ngircd.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd) {
  int one = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = dlsym(RTLD_NEXT, "accept");
  int s = real(fd, addr, len);
  nodelay(s);
  return s;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (!real) real = dlsym(RTLD_NEXT, "accept4");
  int s = real(fd, addr, len, flags);
  nodelay(s);
  return s;
}
