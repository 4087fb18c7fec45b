/* Graph surgery for pruning: drop nodes, reroute their uses, compact the tables. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "prune/prune_internal.h"

static int follow(const int *redirect, int v, int n_values) {
    for (int hops = 0; v >= 0 && redirect[v] >= 0 && hops < n_values; hops++) v = redirect[v];
    return v;
}

shr_status prune_graph_remove(shr_graph *g, const unsigned char *drop_node, const int *redirect) {
    int nv = g->n_values, nn = g->n_nodes;
    int *vmap = malloc(((size_t)nv + 1) * sizeof *vmap), *nmap = malloc(((size_t)nn + 1) * sizeof *nmap);
    unsigned char *used = calloc((size_t)nv + 1, 1);
    if (!vmap || !nmap || !used) {
        free(vmap);
        free(nmap);
        free(used);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < nn; k++) {
        if (drop_node[k]) continue;
        shr_node *n = &g->nodes[k];
        for (int i = 0; i < n->n_inputs; i++) {
            n->inputs[i] = follow(redirect, n->inputs[i], nv);
            if (n->inputs[i] >= 0) used[n->inputs[i]] = 1;
        }
    }
    g->output = follow(redirect, g->output, nv);
    /* New indices, in the old order. */
    int kv = 0, kn = 0;
    for (int k = 0; k < nn; k++) nmap[k] = drop_node[k] ? -1 : kn++;
    for (int v = 0; v < nv; v++) {
        const shr_value *val = &g->values[v];
        int keep = val->kind == SHR_VALUE_INPUT || (val->kind == SHR_VALUE_ACT && !drop_node[val->producer]) ||
                   ((val->kind == SHR_VALUE_PARAM || val->kind == SHR_VALUE_BUFFER) && used[v]);
        vmap[v] = keep ? kv++ : -1;
    }
    for (int v = 0; v < nv; v++) {
        shr_value *val = &g->values[v];
        if (vmap[v] < 0) {
            free(val->name);
            shr_tensor_free(val->data);
            continue;
        }
        if (val->kind == SHR_VALUE_ACT) val->producer = nmap[val->producer];
        g->values[vmap[v]] = *val;
    }
    for (int k = 0; k < nn; k++) {
        shr_node *n = &g->nodes[k];
        if (nmap[k] < 0) {
            free(n->name);
            free(n->inputs);
            continue;
        }
        for (int i = 0; i < n->n_inputs; i++) n->inputs[i] = n->inputs[i] >= 0 ? vmap[n->inputs[i]] : -1;
        n->output = vmap[n->output];
        g->nodes[nmap[k]] = *n;
    }
    g->input = g->input >= 0 ? vmap[g->input] : -1;
    g->output = g->output >= 0 ? vmap[g->output] : -1;
    g->n_values = kv;
    g->n_nodes = kn;
    free(vmap);
    free(nmap);
    free(used);
    return shr_graph_validate(g);
}
