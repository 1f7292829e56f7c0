/* An AVX2-only CPU, as far as the programs in this process can tell (bench/avx2/README.md).
 *
 * Loaded with LD_PRELOAD, it turns on the kernel's CPUID faulting for the process (arch_prctl
 * ARCH_SET_CPUID; the CPU must offer it: the `cpuid_fault` flag in /proc/cpuinfo). Every CPUID
 * instruction then traps; the SIGSEGV handler runs the real CPUID and clears the feature bits of
 * AVX-512, AMX, AVX-VNNI and AVX512-BF16 before handing the result back, so libraries that pick
 * kernels by CPUID (ONNX Runtime's MLAS, oneDNN, MKL, PyTorch's ATen, llama.cpp) pick their AVX2
 * ones. The instructions then run natively: speed is this machine's, with AVX2 code.
 *
 * The setting is inherited by threads and forks and reset by execve, where LD_PRELOAD loads this
 * again. NEWSQA_AVX2_PERSONA_LOG=1 prints how many CPUID calls were answered, at exit.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static volatile unsigned long answered;
static struct sigaction previous;

static long set_cpuid(int enabled) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, enabled); }

static void masked_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
    if (leaf == 7 && sub == 0) {
        /* EBX: avx512f dq ifma pf er cd bw vl */
        r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
        /* ECX: avx512_vbmi vbmi2 vnni bitalg vpopcntdq */
        r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        /* EDX: avx512_4vnniw 4fmaps vp2intersect, amx_bf16, avx512_fp16, amx_tile, amx_int8 */
        r[3] &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
    } else if (leaf == 7 && sub == 1) {
        r[0] &= ~((1u << 4) | (1u << 5)); /* EAX: avx_vnni, avx512_bf16 */
    } else if (leaf == 0xd && sub == 0) {
        r[0] &= ~(0xe0u | (3u << 17)); /* XSAVE components: AVX-512 (5-7), AMX (17-18) */
    }
}

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    if (ip[0] == 0x0f && ip[1] == 0xa2) { /* CPUID */
        uint32_t r[4];
        set_cpuid(1);
        masked_cpuid((uint32_t)g[REG_RAX], (uint32_t)g[REG_RCX], r);
        set_cpuid(0);
        g[REG_RAX] = r[0];
        g[REG_RBX] = r[1];
        g[REG_RCX] = r[2];
        g[REG_RDX] = r[3];
        g[REG_RIP] += 2;
        answered++;
        return;
    }
    /* a real fault: let whatever handled it before (or the default) have it */
    sigaction(SIGSEGV, &previous, NULL);
    raise(sig);
}

static void report(void) {
    if (getenv("NEWSQA_AVX2_PERSONA_LOG"))
        fprintf(stderr, "avx2 persona: answered %lu CPUID calls in pid %d\n", answered, (int)getpid());
}

__attribute__((constructor)) static void start(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous);
    if (set_cpuid(0) != 0) {
        perror("avx2 persona: CPUID faulting is not available here (no cpuid_fault flag)");
        _exit(3);
    }
    atexit(report);
}
