/* list.h: sable's one doubly linked list, intrusive. A node's two links are
 * fields the caller names (next/prev, bin_next/bin_prev); a list is its
 * first node and, where it keeps one, a pointer to its last-node field
 * (SBL_LIST_NO_LAST(x) where it keeps none). NULL ends the list both ways,
 * and a node out of every list has both links NULL. */
#ifndef SABLE_LIST_H
#define SABLE_LIST_H

#include <stddef.h>

#define SBL_LIST_NO_LAST(x) ((__typeof__(x) *)NULL)

/* x, in the list, leaves it */
#define SBL_LIST_UNLINK(first, lastp, x, next, prev)                                               \
    do {                                                                                           \
        __typeof__(x) x_ = (x);                                                                    \
        if (x_->prev)                                                                              \
            x_->prev->next = x_->next;                                                             \
        else                                                                                       \
            (first) = x_->next;                                                                    \
        if (x_->next)                                                                              \
            x_->next->prev = x_->prev;                                                             \
        else if ((lastp) != NULL)                                                                  \
            *(lastp) = x_->prev;                                                                   \
        x_->next = x_->prev = NULL;                                                                \
    } while (0)

/* x, in no list, becomes the first node */
#define SBL_LIST_PUSH_FRONT(first, lastp, x, next, prev)                                           \
    do {                                                                                           \
        __typeof__(x) x_ = (x);                                                                    \
        x_->prev = NULL;                                                                           \
        x_->next = (first);                                                                        \
        if (x_->next)                                                                              \
            x_->next->prev = x_;                                                                   \
        else if ((lastp) != NULL)                                                                  \
            *(lastp) = x_;                                                                         \
        (first) = x_;                                                                              \
    } while (0)

/* x, in no list, becomes the last node (the list keeps its last node) */
#define SBL_LIST_PUSH_BACK(first, lastp, x, next, prev)                                            \
    do {                                                                                           \
        __typeof__(x) x_ = (x);                                                                    \
        x_->next = NULL;                                                                           \
        x_->prev = *(lastp);                                                                       \
        if (x_->prev)                                                                              \
            x_->prev->next = x_;                                                                   \
        else                                                                                       \
            (first) = x_;                                                                          \
        *(lastp) = x_;                                                                             \
    } while (0)

#endif
