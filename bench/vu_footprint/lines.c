// Reads `valgrind --tool=lackey --trace-mem=yes` output on stdin and writes one u64 per cache line
// touched: the address >> 6, with the access kind in the top two bits (0 instruction, 1 load,
// 2 store or modify). bench/vu_footprint.sh uses it; the text trace would be ~30 GB.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  char buf[256];
  static uint64_t out[1 << 16];
  int n = 0;
  while (fgets(buf, sizeof buf, stdin)) {
    char *p = buf;
    uint64_t kind;
    if (p[0] == 'I') kind = 0;
    else if (p[0] == ' ' && p[1] == 'L') kind = 1;
    else if (p[0] == ' ' && (p[1] == 'S' || p[1] == 'M')) kind = 2;
    else continue;
    p += 2;
    while (*p == ' ') p++;
    uint64_t a = strtoull(p, &p, 16);
    int size = 1;
    if (*p == ',') size = atoi(p + 1);
    for (uint64_t l = a >> 6; l <= (a + size - 1) >> 6; l++) {
      out[n++] = l | (kind << 62);
      if (n == 1 << 16) {
        fwrite(out, 8, n, stdout);
        n = 0;
      }
    }
  }
  fwrite(out, 8, n, stdout);
  return 0;
}
