/* A vsock peer for moat's tests, run inside the riscv64 guest (busybox has no vsock):
 *   vsock-tool listen PORT        accept one connection, echo it back until EOF, exit
 *   vsock-tool connect CID PORT   connect, send stdin, shut down writing, copy replies to stdout
 * Built static by the test with Debian's riscv64-linux-gnu-gcc; written for moat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

static long long copied;

static int copy_all(int from, int to) {
	char buf[65536];
	for (;;) {
		ssize_t n = read(from, buf, sizeof buf);
		if (n == 0) return 0;
		copied += n;
		if (n < 0) { perror("read"); return 1; }
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(to, buf + off, n - off);
			if (w < 0) { perror("write"); return 1; }
			off += w;
		}
	}
}

int main(int argc, char **argv) {
	struct sockaddr_vm a;
	memset(&a, 0, sizeof a);
	a.svm_family = AF_VSOCK;
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (s < 0) { perror("socket"); return 1; }
	if (argc == 3 && strcmp(argv[1], "listen") == 0) {
		a.svm_cid = VMADDR_CID_ANY;
		a.svm_port = atoi(argv[2]);
		if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0) { perror("bind"); return 1; }
		printf("LISTENING\n");
		fflush(stdout);
		int c = accept(s, NULL, NULL);
		if (c < 0) { perror("accept"); return 1; }
		int r = copy_all(c, c);
		if (getenv("VSOCK_TOOL_COUNT")) fprintf(stderr, "echoed %lld bytes\n", copied);
		close(c);
		return r;
	}
	if (argc == 4 && strcmp(argv[1], "connect") == 0) {
		a.svm_cid = atoi(argv[2]);
		a.svm_port = atoi(argv[3]);
		if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 2; }
		if (copy_all(0, s)) return 1;
		shutdown(s, SHUT_WR);
		return copy_all(s, 1);
	}
	fprintf(stderr, "usage: vsock-tool listen PORT | connect CID PORT\n");
	return 64;
}
