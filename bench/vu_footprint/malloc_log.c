// LD_PRELOAD library for bench/vu_footprint.sh: logs every malloc, calloc, realloc, free and
// aligned allocation as (op | size << 8, pointer, old pointer) into a buffer at a fixed address,
// written to $MLOG at exit. The buffer's address lets the analysis find, in a lackey trace, the
// store of each record, and so which blocks were live at any point of the trace.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define LOG_ADDR 0x300000000000ul
#define CAP (8ul << 20)
typedef struct { uint64_t op_size, ptr, old; } rec;
static rec *log_buf;
static uint64_t count;
static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
// dlsym allocates: serve it from here while the real functions are looked up.
static char boot[65536];
static size_t boot_used;
static int looking_up;

static void init(void) {
  if (real_malloc || looking_up) return;
  looking_up = 1;
  real_malloc = dlsym(RTLD_NEXT, "malloc");
  real_free = dlsym(RTLD_NEXT, "free");
  real_calloc = dlsym(RTLD_NEXT, "calloc");
  real_realloc = dlsym(RTLD_NEXT, "realloc");
  real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  real_memalign = dlsym(RTLD_NEXT, "memalign");
  log_buf = mmap((void *)LOG_ADDR, CAP * sizeof(rec), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (log_buf == MAP_FAILED) log_buf = NULL;
  looking_up = 0;
}

static void put(uint64_t op, uint64_t size, void *p, void *old) {
  if (!log_buf) return;
  uint64_t i = __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
  if (i < CAP) log_buf[i] = (rec){op | (size << 8), (uint64_t)p, (uint64_t)old};
}

static void *from_boot(size_t size) {
  void *p = boot + boot_used;
  boot_used += (size + 15) & ~15ul;
  return p;
}

void *malloc(size_t size) {
  if (!real_malloc) {
    if (looking_up) return from_boot(size);
    init();
  }
  void *p = real_malloc(size);
  put(1, size, p, 0);
  return p;
}

void *calloc(size_t n, size_t size) {
  if (!real_calloc) {
    if (looking_up) return from_boot(n * size);
    init();
  }
  void *p = real_calloc(n, size);
  put(1, n * size, p, 0);
  return p;
}

void free(void *p) {
  if ((char *)p >= boot && (char *)p < boot + sizeof boot) return;
  if (!real_free) init();
  if (p) put(2, 0, p, 0);
  real_free(p);
}

void *realloc(void *old, size_t size) {
  if (!real_realloc) init();
  void *p = real_realloc(old, size);
  put(3, size, p, old);
  return p;
}

int posix_memalign(void **out, size_t align, size_t size) {
  if (!real_posix_memalign) init();
  int r = real_posix_memalign(out, align, size);
  if (r == 0) put(1, size, *out, 0);
  return r;
}

void *aligned_alloc(size_t align, size_t size) {
  if (!real_aligned_alloc) init();
  void *p = real_aligned_alloc(align, size);
  put(1, size, p, 0);
  return p;
}

void *memalign(size_t align, size_t size) {
  if (!real_memalign) init();
  void *p = real_memalign(align, size);
  put(1, size, p, 0);
  return p;
}

__attribute__((destructor)) static void dump(void) {
  const char *path = getenv("MLOG");
  if (!path || !log_buf) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  uint64_t n = count < CAP ? count : CAP;
  ssize_t w = write(fd, log_buf, n * sizeof(rec));
  (void)w;
  close(fd);
}
