// A minimal epoll TCP proxy (read, write, nothing else): the floor for any user-space proxy in
// the proxy benchmark. Usage: floor_proxy LISTEN_PORT UPSTREAM_PORT (both on 127.0.0.1).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
static int peer[65536];
int main(int argc, char **argv) {
  int lport = atoi(argv[1]), uport = atoi(argv[2]);
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(lport), .sin_addr.s_addr = htonl(0x7f000001)};
  if (bind(ls, (void *)&a, sizeof a) || listen(ls, 1024)) { perror("bind"); return 1; }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  static char buf[65536];
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        int c = accept(ls, 0, 0);
        int u = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in ua = {.sin_family = AF_INET, .sin_port = htons(uport), .sin_addr.s_addr = htonl(0x7f000001)};
        if (connect(u, (void *)&ua, sizeof ua)) { close(c); close(u); continue; }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        peer[c] = u; peer[u] = c;
        struct epoll_event e1 = {.events = EPOLLIN, .data.fd = c}, e2 = {.events = EPOLLIN, .data.fd = u};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &e1); epoll_ctl(ep, EPOLL_CTL_ADD, u, &e2);
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) { int p = peer[fd]; close(fd); close(p); continue; }
      ssize_t off = 0;
      while (off < r) { ssize_t w = write(peer[fd], buf + off, r - off); if (w <= 0) break; off += w; }
    }
  }
}
