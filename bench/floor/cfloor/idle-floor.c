/*
 * idle-floor: the least a server on this machine can spend on idle HTTP/2
 * connections that ping, written in C so that no language runtime is in
 * the figure. One thread waits in epoll_wait for every connection; it
 * answers the client's SETTINGS and PINGs and, for every request stream
 * that ends, sends a canned empty gRPC reply with grpc-status 0 (enough for
 * the cache_client.Ping call that `thaw bench --idle-connections` makes
 * first). It decodes no headers and checks nothing: it is a measuring
 * stick for scripts/bench-server.sh's idle row, not a server.
 *
 * Build: gcc -O2 -o idle-floor idle-floor.c
 * Usage: idle-floor [port]   (127.0.0.1; port 0 or none picks a free one,
 *                             printed as the first line of stdout)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
	FRAME_DATA = 0x0,
	FRAME_HEADERS = 0x1,
	FRAME_SETTINGS = 0x4,
	FRAME_PING = 0x6,
	FLAG_ACK = 0x1,
	FLAG_END_STREAM = 0x1,
	FLAG_END_HEADERS = 0x4,
	FRAME_HEADER_LEN = 9,
	PREFACE_LEN = 24,
	MAX_FDS = 1 << 17,
};

/* Per connection: how much of the client preface is still to come, and an
 * incomplete frame kept until the rest arrives. */
struct conn {
	int preface;
	unsigned char *partial;
	size_t partial_len;
};

static struct conn conns[MAX_FDS];
static unsigned char out[1 << 17];
static size_t out_len;
static unsigned char reply_headers[64], ok_trailers[32];
static size_t reply_headers_len, ok_trailers_len;

static void append_frame(int type, int flags, unsigned stream, const unsigned char *payload, size_t n)
{
	unsigned char h[FRAME_HEADER_LEN] = {n >> 16, n >> 8, n, type, flags, stream >> 24, stream >> 16, stream >> 8, stream};
	if (out_len + sizeof h + n > sizeof out)
		return; /* a batch this large does not happen with pings */
	memcpy(out + out_len, h, sizeof h);
	memcpy(out + out_len + sizeof h, payload, n);
	out_len += sizeof h + n;
}

/* A literal header field without indexing, new name (RFC 7541 6.2.2). */
static size_t append_literal(unsigned char *b, size_t i, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);
	b[i++] = 0;
	b[i++] = n;
	memcpy(b + i, name, n);
	i += n;
	b[i++] = v;
	memcpy(b + i, value, v);
	return i + v;
}

static void drop(int epoll, int fd)
{
	epoll_ctl(epoll, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	free(conns[fd].partial);
	memset(&conns[fd], 0, sizeof conns[fd]);
}

/* answer appends the answers to every complete frame in b and returns how
 * many bytes of b it used. */
static size_t answer(const unsigned char *b, size_t len)
{
	size_t used = 0;
	while (len - used >= FRAME_HEADER_LEN) {
		const unsigned char *f = b + used;
		size_t n = (size_t)f[0] << 16 | f[1] << 8 | f[2];
		if (len - used < FRAME_HEADER_LEN + n)
			break;
		int type = f[3], flags = f[4];
		unsigned stream = (unsigned)(f[5] & 0x7f) << 24 | f[6] << 16 | f[7] << 8 | f[8];
		if (type == FRAME_SETTINGS && !(flags & FLAG_ACK)) {
			append_frame(FRAME_SETTINGS, FLAG_ACK, 0, NULL, 0);
		} else if (type == FRAME_PING && !(flags & FLAG_ACK) && n == 8) {
			append_frame(FRAME_PING, FLAG_ACK, 0, f + FRAME_HEADER_LEN, 8);
		} else if ((type == FRAME_DATA || type == FRAME_HEADERS) && (flags & FLAG_END_STREAM)) {
			static const unsigned char empty_message[5];
			append_frame(FRAME_HEADERS, FLAG_END_HEADERS, stream, reply_headers, reply_headers_len);
			append_frame(FRAME_DATA, 0, stream, empty_message, sizeof empty_message);
			append_frame(FRAME_HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, stream, ok_trailers, ok_trailers_len);
		}
		used += FRAME_HEADER_LEN + n;
	}
	return used;
}

static void serve(int epoll, int fd)
{
	static unsigned char buf[1 << 16], joined[(1 << 16) * 2 + 64];
	struct conn *c = &conns[fd];
	ssize_t r = read(fd, buf, sizeof buf);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		drop(epoll, fd);
		return;
	}
	unsigned char *b = buf;
	size_t len = r;
	if (c->preface) {
		size_t k = (size_t)c->preface < len ? (size_t)c->preface : len;
		c->preface -= k;
		b += k;
		len -= k;
	}
	if (c->partial) {
		if (c->partial_len + len > sizeof joined) {
			drop(epoll, fd);
			return;
		}
		memcpy(joined, c->partial, c->partial_len);
		memcpy(joined + c->partial_len, b, len);
		len += c->partial_len;
		b = joined;
		free(c->partial);
		c->partial = NULL;
		c->partial_len = 0;
	}
	out_len = 0;
	size_t used = answer(b, len);
	if (used < len) {
		c->partial = malloc(len - used);
		memcpy(c->partial, b + used, len - used);
		c->partial_len = len - used;
	}
	if (out_len > 0 && write(fd, out, out_len) != (ssize_t)out_len)
		drop(epoll, fd); /* a floor for idle connections: no output queue */
}

int main(int argc, char **argv)
{
	reply_headers[0] = 0x88; /* :status 200, static table entry 8 */
	reply_headers_len = append_literal(reply_headers, 1, "content-type", "application/grpc");
	ok_trailers_len = append_literal(ok_trailers, 0, "grpc-status", "0");

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max < MAX_FDS ? rl.rlim_max : MAX_FDS;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	int one = 1;
	int lis = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lis, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	addr.sin_port = htons(argc > 1 ? atoi(argv[1]) : 0);
	if (bind(lis, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lis, 4096) != 0) {
		perror("idle-floor: listen");
		return 1;
	}
	socklen_t addr_len = sizeof addr;
	getsockname(lis, (struct sockaddr *)&addr, &addr_len);
	printf("127.0.0.1:%d\n", ntohs(addr.sin_port));
	fflush(stdout);

	int epoll = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lis};
	epoll_ctl(epoll, EPOLL_CTL_ADD, lis, &ev);
	struct epoll_event events[256];
	for (;;) {
		int n = epoll_wait(epoll, events, 256, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("idle-floor: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd != lis) {
				serve(epoll, fd);
				continue;
			}
			int c;
			while ((c = accept4(lis, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
				if (c >= MAX_FDS) {
					close(c);
					continue;
				}
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
				epoll_ctl(epoll, EPOLL_CTL_ADD, c, &cev);
				conns[c].preface = PREFACE_LEN;
				out_len = 0;
				append_frame(FRAME_SETTINGS, 0, 0, NULL, 0);
				if (write(c, out, out_len) != (ssize_t)out_len)
					drop(epoll, c);
			}
		}
	}
}
