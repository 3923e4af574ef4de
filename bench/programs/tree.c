/* tree.c: a compute-bound program whose speed depends only on where the
 * allocator places its blocks. It builds a binary tree of small nodes in
 * depth-first order, replaces random subtrees (frees them and builds new
 * ones, several rounds: the new nodes land wherever the allocator puts
 * them), then walks the whole tree depth-first many times. The walk
 * allocates nothing: it is fast when nodes made together in time lie
 * together in memory, slow when they are scattered.
 *
 * usage: tree DEPTH ROUNDS WALKS   (e.g. tree 20 8 40)
 * Prints the checksum of the last walk (the same under every allocator)
 * and, on stderr, the seconds of the build and of the walks. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct node {
    struct node *left, *right;
    uint64_t key;
    uint32_t depth, weight;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static struct node *build(uint32_t depth, uint64_t key)
{
    struct node *n = malloc(sizeof *n);
    if (n == NULL) {
        fprintf(stderr, "tree: out of memory\n");
        exit(1);
    }
    n->key = key;
    n->depth = depth;
    n->weight = (uint32_t)(rng() & 0xff);
    n->left = depth ? build(depth - 1, key * 2) : NULL;
    n->right = depth ? build(depth - 1, key * 2 + 1) : NULL;
    return n;
}

static void drop(struct node *n)
{
    if (n == NULL)
        return;
    drop(n->left);
    drop(n->right);
    free(n);
}

/* Replaces `count` random subtrees of `depth` levels below the root. */
static void regrow(struct node *root, uint32_t top, uint32_t depth, int count)
{
    for (int i = 0; i < count; i++) {
        struct node *n = root;
        for (uint32_t d = top; d > depth + 1; d--)
            n = (rng() & 1) ? n->left : n->right;
        struct node **slot = (rng() & 1) ? &n->left : &n->right;
        uint64_t key = (*slot)->key;
        drop(*slot);
        *slot = build(depth, key);
    }
}

static uint64_t walk(const struct node *n)
{
    uint64_t sum = 0;
    while (n) { /* the left spine iteratively, the right subtrees recursively */
        sum += n->key * n->weight + n->depth;
        sum += walk(n->right);
        n = n->left;
    }
    return sum;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tree DEPTH ROUNDS WALKS\n");
        return 2;
    }
    uint32_t depth = (uint32_t)atoi(argv[1]);
    int rounds = atoi(argv[2]), walks = atoi(argv[3]);
    if (depth < 8 || depth > 26 || rounds < 0 || walks < 1) {
        fprintf(stderr, "tree: DEPTH 8..26, ROUNDS >= 0, WALKS >= 1\n");
        return 2;
    }
    double t0 = now();
    struct node *root = build(depth, 1);
    /* each round replaces about a quarter of the tree, in subtrees of 2^7 - 1 nodes */
    int per_round = (int)(((size_t)1 << (depth - 7)) / 4);
    for (int r = 0; r < rounds; r++)
        regrow(root, depth, 6, per_round);
    double t1 = now();
    uint64_t sum = 0;
    for (int w = 0; w < walks; w++)
        sum = walk(root);
    double t2 = now();
    printf("checksum %llu\n", (unsigned long long)sum);
    fprintf(stderr, "tree: build and %d rounds %.3f s, %d walks %.3f s (%.2f ns per node)\n", rounds,
            t1 - t0, walks, t2 - t1, (t2 - t1) * 1e9 / walks / (double)(((size_t)2 << depth) - 1));
    drop(root);
    return 0;
}
