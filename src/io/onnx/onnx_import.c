/* ONNX import driver: reads the model with protobuf-c, checks versions, binds
 * initializers / fixed inputs / the model input, sorts the nodes
 * topologically, runs each node's converter, picks the output and sets the
 * default preprocessing. See onnx_internal.h for the batch conventions. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx/onnx_internal.h"
#include "shrink/report.h"

#define OX_MIN_OPSET 1 /* each converter states the first opset whose definition it implements */
#define OX_MAX_OPSET 17
#define OX_MAX_FILE ((size_t)2 << 30) /* protobuf's own 2 GiB message limit */

shr_onnx_import_options shr_onnx_import_default(void) {
    shr_onnx_import_options o;
    memset(&o, 0, sizeof o);
    o.batch = SHR_ONNX_BATCH_DIM0;
    return o;
}

int shr_is_onnx_path(const char *path) {
    size_t n = path ? strlen(path) : 0;
    if (n < 5) return 0;
    const char *ext = path + n - 5;
    return ext[0] == '.' && tolower((unsigned char)ext[1]) == 'o' && tolower((unsigned char)ext[2]) == 'n' &&
           tolower((unsigned char)ext[3]) == 'n' && tolower((unsigned char)ext[4]) == 'x';
}

static const ox_op *find_op(const char *name) {
    static const ox_op *const tables[] = {ox_ops_const, ox_ops_elem, ox_ops_nn,    ox_ops_shape,
                                          ox_ops_index, ox_ops_norm, ox_ops_quant, ox_ops_resize};
    const int *const counts[] = {&ox_ops_const_n, &ox_ops_elem_n, &ox_ops_nn_n,    &ox_ops_shape_n,
                                 &ox_ops_index_n, &ox_ops_norm_n, &ox_ops_quant_n, &ox_ops_resize_n};
    for (int t = 0; t < 8; t++)
        for (int i = 0; i < *counts[t]; i++)
            if (strcmp(tables[t][i].name, name) == 0) return &tables[t][i];
    return NULL;
}

static void ctx_free(ox_ctx *c) {
    for (int i = 0; i < c->n_entries; i++) ox_const_free(c->entries[i].c);
    free(c->entries);
    for (int i = 0; i < c->n_dead; i++) free(c->dead[i]);
    free(c->dead);
    ox_map_free(c->map);
    ox_map_free(c->used);
}

static int is_onnx_domain(const char *d) { return !d || !d[0] || strcmp(d, "ai.onnx") == 0; }

static shr_status check_versions(ox_ctx *c, const Onnx__ModelProto *m) {
    if (!m->graph) return shr_fail(SHR_ERR_FORMAT, "ONNX model has no graph");
    if (m->has_ir_version && m->ir_version < 3)
        return shr_fail(SHR_ERR_UNSUPPORTED, "ONNX IR version %lld is older than 3", (long long)m->ir_version);
    c->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++)
        if (is_onnx_domain(m->opset_import[i]->domain) && m->opset_import[i]->has_version)
            c->opset = (int)(m->opset_import[i]->version > 1000 ? 1000 : m->opset_import[i]->version);
    if (c->opset < 0 && m->n_opset_import && m->opset_import[0]->domain)
        return shr_fail(SHR_ERR_UNSUPPORTED, "ONNX model uses only the operator domain '%s'", m->opset_import[0]->domain);
    if (c->opset < 0) return shr_fail(SHR_ERR_FORMAT, "ONNX model imports no opset of the default domain");
    if (c->opset < OX_MIN_OPSET || c->opset > OX_MAX_OPSET)
        return shr_fail(SHR_ERR_UNSUPPORTED, "ONNX opset %d is not supported (shrink reads opsets %d to %d)", c->opset,
                        OX_MIN_OPSET, OX_MAX_OPSET);
    return SHR_OK;
}

static int is_initializer(const Onnx__GraphProto *gr, const char *name) {
    for (size_t i = 0; i < gr->n_initializer; i++)
        if (gr->initializer[i]->name && strcmp(gr->initializer[i]->name, name) == 0) return 1;
    return 0;
}

static const shr_onnx_binding *find_binding(const shr_onnx_import_options *o, const char *name) {
    for (int i = 0; i < o->n_bind; i++)
        if (o->bind[i].name && strcmp(o->bind[i].name, name) == 0) return &o->bind[i];
    return NULL;
}

static shr_status bind_initializers(ox_ctx *c, const Onnx__GraphProto *gr, const shr_onnx_import_options *o) {
    if (gr->n_sparse_initializer) return shr_fail(SHR_ERR_UNSUPPORTED, "sparse initializers are not supported");
    for (size_t i = 0; i < gr->n_initializer; i++) {
        const Onnx__TensorProto *t = gr->initializer[i];
        if (!t->name || !t->name[0]) return shr_fail(SHR_ERR_FORMAT, "initializer %zu has no name", i);
        ox_const *k;
        SHR_TRY(ox_const_from_tensor(t, c->base_dir, &k));
        k->trainable = 1;
        k->name = t->name;
        SHR_TRY(ox_bind_const(c, t->name, k));
    }
    for (int i = 0; i < o->n_bind; i++) {
        const shr_onnx_binding *b = &o->bind[i];
        int found = 0;
        for (size_t j = 0; j < gr->n_input && !found; j++) found = gr->input[j]->name && b->name && !strcmp(gr->input[j]->name, b->name);
        if (!found) return shr_fail(SHR_ERR_INVALID_ARG, "bound input '%s' is not an input of the model", b->name ? b->name : "");
        Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, b->size, b->tensor);
        if (!t) return shr_fail(SHR_ERR_FORMAT, "value bound to '%s' is not a valid ONNX tensor", b->name);
        ox_const *k;
        shr_status st = ox_const_from_tensor(t, c->base_dir, &k);
        onnx__tensor_proto__free_unpacked(t, NULL);
        SHR_TRY(st);
        if (ox_map_get(c->map, b->name) >= 0) { /* overrides an initializer's default */
            ox_entry *e = &c->entries[ox_map_get(c->map, b->name)];
            ox_const_free(e->c);
            e->c = k;
        } else {
            SHR_TRY(ox_bind_const(c, b->name, k));
        }
    }
    return SHR_OK;
}

/* The fed input: its element type, fixed sample dims, and the batch convention. */
static shr_status bind_input(ox_ctx *c, const Onnx__GraphProto *gr, const shr_onnx_import_options *o) {
    const Onnx__ValueInfoProto *in = NULL;
    int candidates = 0;
    for (size_t i = 0; i < gr->n_input; i++) {
        const char *name = gr->input[i]->name;
        if (!name || is_initializer(gr, name) || find_binding(o, name)) continue;
        if (o->input ? strcmp(name, o->input) == 0 : candidates++ == 0) in = gr->input[i];
    }
    if (!in) return shr_fail(o->input ? SHR_ERR_INVALID_ARG : SHR_ERR_FORMAT, "model has no input %s%s", o->input ? "named " : "",
                             o->input ? o->input : "to feed");
    if (!o->input && candidates > 1)
        return shr_fail(SHR_ERR_UNSUPPORTED, "model has %d inputs; shrink models take one (choose it and fix the others)", candidates);
    const Onnx__TypeProto *tp = in->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return shr_fail(SHR_ERR_UNSUPPORTED, "input '%s' is not a tensor", in->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (!tt->has_elem_type || tt->elem_type != 1)
        return shr_fail(SHR_ERR_UNSUPPORTED, "input '%s' has element type %d; shrink models take float input", in->name,
                        tt->has_elem_type ? tt->elem_type : 0);
    if (!tt->shape) return shr_fail(SHR_ERR_UNSUPPORTED, "input '%s' has no shape", in->name);
    const Onnx__TensorShapeProto *sh = tt->shape;
    const int rank = (int)sh->n_dim;
    if (rank > SHR_MAX_DIMS - c->lift || rank < 2 - c->lift)
        return shr_fail(SHR_ERR_UNSUPPORTED, "input '%s' has rank %d; shrink needs %s and at most %d dims", in->name, rank,
                        c->lift ? "at least one dim" : "a batch dim plus at least one more", SHR_MAX_DIMS - c->lift);
    int64_t sample[SHR_MAX_DIMS];
    c->static_batch = -1;
    for (int d = 0; d < rank; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = sh->dim[d];
        int fixed = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        if (d == 0 && !c->lift) {
            if (fixed) c->static_batch = dim->dim_value;
            continue;
        }
        if (!fixed || dim->dim_value < 1)
            return shr_fail(SHR_ERR_UNSUPPORTED, "input '%s': dim %d is %s; shrink needs a fixed sample shape", in->name, d,
                            fixed ? "not positive" : "symbolic");
        sample[d - 1 + c->lift] = dim->dim_value;
    }
    int v;
    SHR_TRY(shr_graph_add_input(c->g, in->name, rank - 1 + c->lift, sample, &v));
    SHR_TRY(ox_map_put(c->used, c->g->values[v].name, v));
    return ox_bind_act(c, in->name, v);
}

/* Kahn's algorithm over tensor names (ready nodes in index order, so a sorted
 * graph keeps its order), with clear errors for undefined names, double
 * definitions and cycles. Edges producer -> consumer are kept in CSR arrays. */
static shr_status sort_nodes(ox_ctx *c, const Onnx__GraphProto *gr, int **order) {
    const int n = (int)gr->n_node;
    if (gr->n_node > SHR_MAX_NODES) return shr_fail(SHR_ERR_LIMIT, "graph has %zu nodes (limit %d)", gr->n_node, SHR_MAX_NODES);
    size_t n_edges = 0;
    for (int k = 0; k < n; k++) n_edges += gr->node[k]->n_input;
    ox_map *producer = NULL;
    int *missing = calloc((size_t)n + 1, sizeof *missing), *queue = malloc(((size_t)n + 1) * sizeof *queue);
    int *ord = malloc(((size_t)n + 1) * sizeof *ord), *start = calloc((size_t)n + 2, sizeof *start);
    int *edge = malloc((n_edges + 1) * sizeof *edge), *from = malloc((n_edges + 1) * sizeof *from);
    shr_status st = (missing && queue && ord && start && edge && from) ? ox_map_create(&producer)
                                                                       : shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int k = 0; st == SHR_OK && k < n; k++)
        for (size_t o = 0; st == SHR_OK && o < gr->node[k]->n_output; o++) {
            const char *name = gr->node[k]->output[o];
            if (!name || !name[0]) continue;
            if (ox_map_get(producer, name) >= 0 || ox_map_get(c->map, name) >= 0)
                st = shr_fail(SHR_ERR_FORMAT, "tensor '%s' is defined more than once", name);
            else st = ox_map_put(producer, name, k);
        }
    size_t m = 0; /* edges: from[e] produces an input of node k; counted per producer */
    for (int k = 0; st == SHR_OK && k < n; k++)
        for (size_t i = 0; st == SHR_OK && i < gr->node[k]->n_input; i++) {
            const char *name = gr->node[k]->input[i];
            if (!name || !name[0] || ox_map_get(c->map, name) >= 0) continue;
            int p = ox_map_get(producer, name);
            if (p < 0)
                st = shr_fail(SHR_ERR_FORMAT, "node '%s' (#%d, %s): input '%s' is not defined (missing initializer or input?)",
                              gr->node[k]->name ? gr->node[k]->name : "", k, gr->node[k]->op_type ? gr->node[k]->op_type : "?", name);
            else {
                missing[k]++;
                start[p + 1]++;
                from[m] = p;
                edge[m++] = k;
            }
        }
    if (st == SHR_OK) { /* bucket the edges by producer */
        for (int k = 0; k < n; k++) start[k + 1] += start[k];
        int *fill = queue; /* reused as a cursor array before the queue is needed */
        for (int k = 0; k < n; k++) fill[k] = start[k];
        int *sorted = malloc((m + 1) * sizeof *sorted);
        if (!sorted) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
        for (size_t e = 0; st == SHR_OK && e < m; e++) sorted[fill[from[e]]++] = edge[e];
        if (st == SHR_OK) memcpy(edge, sorted, m * sizeof *edge);
        free(sorted);
    }
    int head = 0, tail = 0, done = 0;
    for (int k = 0; st == SHR_OK && k < n; k++)
        if (!missing[k]) queue[tail++] = k;
    while (st == SHR_OK && head < tail) {
        int k = queue[head++];
        ord[done++] = k;
        for (int e = start[k]; e < start[k + 1]; e++)
            if (--missing[edge[e]] == 0) queue[tail++] = edge[e];
    }
    if (st == SHR_OK && done < n) {
        int k = 0;
        while (k < n && !missing[k]) k++;
        st = shr_fail(SHR_ERR_FORMAT, "graph has a cycle through node '%s' (#%d, %s)", gr->node[k]->name ? gr->node[k]->name : "",
                      k, gr->node[k]->op_type ? gr->node[k]->op_type : "?");
    }
    ox_map_free(producer);
    free(missing);
    free(queue);
    free(start);
    free(edge);
    free(from);
    if (st != SHR_OK) {
        free(ord);
        return st;
    }
    *order = ord;
    return SHR_OK;
}

/* 1 if some node or graph output reads name. */
static int name_used(const Onnx__GraphProto *gr, const char *name) {
    for (size_t k = 0; k < gr->n_node; k++)
        for (size_t i = 0; i < gr->node[k]->n_input; i++)
            if (gr->node[k]->input[i] && !strcmp(gr->node[k]->input[i], name)) return 1;
    for (size_t i = 0; i < gr->n_output; i++)
        if (gr->output[i]->name && !strcmp(gr->output[i]->name, name)) return 1;
    return 0;
}

static shr_status convert_node(ox_ctx *c, const Onnx__GraphProto *gr, const ox_node *n) {
    const char *op = n->op_type ? n->op_type : "";
    if (!is_onnx_domain(n->domain))
        return ox_unsupported(c, "operator '%s' of domain '%s' is not supported", op, n->domain);
    const ox_op *def = find_op(op);
    if (!def) return ox_unsupported(c, "operator '%s' is not supported by shrink", op);
    if (c->opset < def->min_opset)
        return ox_unsupported(c, "shrink implements '%s' from opset %d on", op, def->min_opset);
    for (size_t i = 0; i < n->n_input; i++) {
        int e = n->input[i] && n->input[i][0] ? ox_map_get(c->map, n->input[i]) : -1;
        if (e >= 0 && c->entries[e].kind == OX_QUANT && strcmp(op, "DequantizeLinear"))
            return ox_unsupported(c, "input '%s' holds QuantizeLinear codes; shrink reads them only through DequantizeLinear",
                                  n->input[i]);
    }
    c->first_new_value = c->g->n_values;
    SHR_TRY(def->fn(c, n));
    for (size_t o = 0; o < n->n_output; o++) {
        const char *name = n->output[o];
        if (name && name[0] && ox_map_get(c->map, name) < 0 && name_used(gr, name))
            return ox_unsupported(c, "output %zu ('%s') of '%s' is not supported", o, name, op);
    }
    return SHR_OK;
}

static shr_status bind_output(ox_ctx *c, const Onnx__GraphProto *gr, const shr_onnx_import_options *o) {
    const Onnx__ValueInfoProto *out = NULL;
    for (size_t i = 0; i < gr->n_output; i++)
        if (!o->output || (gr->output[i]->name && !strcmp(gr->output[i]->name, o->output))) {
            out = gr->output[i];
            break;
        }
    if (!out || !out->name) return shr_fail(o->output ? SHR_ERR_INVALID_ARG : SHR_ERR_FORMAT, "model has no output %s", o->output ? o->output : "");
    if (!o->output && gr->n_output > 1)
        return shr_fail(SHR_ERR_UNSUPPORTED, "model has %zu outputs; shrink models return one (choose it)", gr->n_output);
    const Onnx__TypeProto *tp = out->type;
    if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type && tp->tensor_type->has_elem_type &&
        tp->tensor_type->elem_type != 1)
        return shr_fail(SHR_ERR_UNSUPPORTED, "output '%s' has element type %d; shrink models return float", out->name,
                        tp->tensor_type->elem_type);
    int e = ox_map_get(c->map, out->name);
    if (e < 0) return shr_fail(SHR_ERR_FORMAT, "output '%s' is not computed by the graph", out->name);
    c->node = NULL;
    if (c->entries[e].kind == OX_QUANT) return shr_fail(SHR_ERR_UNSUPPORTED, "output '%s' is quantized codes", out->name);
    int v = c->entries[e].value;
    if (c->entries[e].kind == OX_CONST) {
        if (!c->lift) return shr_fail(SHR_ERR_UNSUPPORTED, "output '%s' does not depend on the input", out->name);
        int cv;
        SHR_TRY(ox_const_value(c, c->entries[e].c, 0, -1, NULL, &cv));
        SHR_TRY(shr_graph_add_node(c->g, "output", SHR_OP_BATCH_CONST, NULL, 2, (int[]){c->g->input, cv}, &v));
    } else if (c->g->values[v].kind != SHR_VALUE_ACT) { /* the input itself: a copy */
        const shr_value *x = &c->g->values[v];
        shr_attrs a = shr_attrs_default();
        a.ndim = x->ndim - 1;
        for (int d = 1; d < x->ndim; d++) a.shape[d - 1] = x->shape[d];
        SHR_TRY(shr_graph_add_node(c->g, "output", SHR_OP_RESHAPE, &a, 1, &v, &v));
    }
    c->g->output = v;
    return SHR_OK;
}

static void set_preproc(shr_graph *g) {
    const shr_value *in = &g->values[g->input];
    shr_preproc *p = &g->preproc;
    memset(p, 0, sizeof *p);
    p->scale = 1.0f / 255.0f;
    p->channels = (in->ndim == 4 && in->shape[1] <= SHR_MAX_CHANNELS) ? (int)in->shape[1] : 1;
    for (int k = 0; k < SHR_MAX_CHANNELS; k++) p->std[k] = 1.0f;
}

static shr_status import_model(ox_ctx *c, const Onnx__ModelProto *m, const shr_onnx_import_options *o) {
    SHR_TRY(check_versions(c, m));
    const Onnx__GraphProto *gr = m->graph;
    SHR_TRY(bind_initializers(c, gr, o));
    SHR_TRY(bind_input(c, gr, o));
    int *order = NULL;
    SHR_TRY(sort_nodes(c, gr, &order));
    shr_status st = SHR_OK;
    for (size_t k = 0; st == SHR_OK && k < gr->n_node; k++) {
        c->node = gr->node[order[k]];
        c->node_index = order[k];
        st = convert_node(c, gr, c->node);
    }
    free(order);
    SHR_TRY(st);
    SHR_TRY(bind_output(c, gr, o));
    set_preproc(c->g);
    SHR_TRY(ox_read_metadata(m, &c->g->preproc));
    char line[300], prod[64];
    snprintf(prod, sizeof prod, "%s", m->producer_name && m->producer_name[0] ? m->producer_name : "unknown");
    for (char *p = prod; *p; p++)
        if (*p == ' ' || *p == '=' || *p == '\n' || *p == '\r') *p = '_';
    snprintf(line, sizeof line, "import format=onnx producer=%s opset=%d batch=%s", prod, c->opset,
             c->lift ? "none" : "dim0");
    SHR_TRY(shr_lineage_add_step(c->g, line, o->source_sha256));
    return shr_graph_validate(c->g);
}

shr_status shr_onnx_import_memory(const void *buf, size_t size, const shr_onnx_import_options *opt, shr_graph **out) {
    shr_onnx_import_options o = opt ? *opt : shr_onnx_import_default();
    if (!buf || !out) return shr_fail(SHR_ERR_INVALID_ARG, "shr_onnx_import_memory: NULL argument");
    if (size > OX_MAX_FILE) return shr_fail(SHR_ERR_LIMIT, "ONNX model larger than 2 GiB");
    if (o.n_bind < 0 || (o.n_bind > 0 && !o.bind)) return shr_fail(SHR_ERR_INVALID_ARG, "bad input bindings");
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, buf);
    if (!m) return shr_fail(SHR_ERR_FORMAT, "not a valid ONNX model (protobuf decoding failed: truncated or corrupt)");
    ox_ctx c;
    memset(&c, 0, sizeof c);
    c.model = m;
    c.base_dir = o.base_dir ? o.base_dir : ".";
    c.lift = o.batch == SHR_ONNX_BATCH_NONE;
    c.fold_budget = OX_MAX_FOLD;
    shr_status st = shr_graph_create(&c.g);
    if (st == SHR_OK) st = ox_map_create(&c.map);
    if (st == SHR_OK) st = ox_map_create(&c.used);
    if (st == SHR_OK) st = import_model(&c, m, &o);
    if (st == SHR_OK) {
        *out = c.g;
        c.g = NULL;
    }
    shr_graph_free(c.g);
    ctx_free(&c);
    onnx__model_proto__free_unpacked(m, NULL);
    return st;
}

shr_status shr_onnx_import(const char *path, const shr_onnx_import_options *opt, shr_graph **out) {
    FILE *f = fopen(path, "rb");
    if (!f) return shr_fail(SHR_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    shr_status st = SHR_OK;
    unsigned char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        st = shr_fail(SHR_ERR_IO, "cannot read '%s'", path);
    else if ((size_t)len > OX_MAX_FILE)
        st = shr_fail(SHR_ERR_LIMIT, "'%s' is larger than 2 GiB", path);
    else if (!(buf = malloc((size_t)len + 1)))
        st = shr_fail(SHR_ERR_NOMEM, "out of memory reading '%s'", path);
    else if (fread(buf, 1, (size_t)len, f) != (size_t)len)
        st = shr_fail(SHR_ERR_IO, "short read from '%s'", path);
    fclose(f);
    if (st == SHR_OK) {
        shr_onnx_import_options o = opt ? *opt : shr_onnx_import_default();
        char dir[4096];
        const char *slash = strrchr(path, '/');
        if (!o.base_dir) {
            if (slash && (size_t)(slash - path) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
            else snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
            if (slash == path) snprintf(dir, sizeof dir, "/");
            o.base_dir = dir;
        }
        char hex[65];
        if (!o.source_sha256 && shr_file_sha256(path, hex) == SHR_OK) o.source_sha256 = hex;
        st = shr_onnx_import_memory(buf, (size_t)len, &o, out);
        if (st != SHR_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", shr_last_error());
            st = shr_fail(st, "%s: %s", path, msg);
        }
    }
    free(buf);
    return st;
}

shr_status shr_onnx_tensor_decode(const void *buf, size_t size, shr_tensor **out, char **name) {
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, size, buf);
    if (!t) return shr_fail(SHR_ERR_FORMAT, "not a valid ONNX tensor");
    ox_const *k = NULL;
    shr_status st = ox_const_from_tensor(t, ".", &k);
    if (st == SHR_OK && name) *name = strdup(t->name ? t->name : "");
    onnx__tensor_proto__free_unpacked(t, NULL);
    if (st != SHR_OK) return st;
    st = shr_tensor_create(out, SHR_F32, k->ndim, k->shape);
    for (int64_t e = 0; st == SHR_OK && e < k->numel; e++) shr_f32(*out)[e] = (float)ox_const_get_f(k, e);
    ox_const_free(k);
    if (st != SHR_OK && name) {
        free(*name);
        *name = NULL;
    }
    return st;
}

void shr_onnx_names_free(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

static shr_status copy_names(Onnx__ValueInfoProto **vi, size_t n, const Onnx__GraphProto *gr, char ***out, int *count) {
    char **names = calloc(n + 1, sizeof *names);
    int k = 0;
    if (!names) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *name = vi[i]->name ? vi[i]->name : "";
        if (gr && is_initializer(gr, name)) continue;
        if (!(names[k++] = strdup(name))) {
            shr_onnx_names_free(names, k);
            return shr_fail(SHR_ERR_NOMEM, "out of memory");
        }
    }
    *out = names;
    *count = k;
    return SHR_OK;
}

shr_status shr_onnx_io_names(const void *buf, size_t size, char ***inputs, int *n_inputs, char ***outputs,
                             int *n_outputs) {
    if (size > OX_MAX_FILE) return shr_fail(SHR_ERR_LIMIT, "ONNX model larger than 2 GiB");
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, buf);
    if (!m) return shr_fail(SHR_ERR_FORMAT, "not a valid ONNX model (protobuf decoding failed: truncated or corrupt)");
    shr_status st = m->graph ? SHR_OK : shr_fail(SHR_ERR_FORMAT, "ONNX model has no graph");
    if (st == SHR_OK) st = copy_names(m->graph->input, m->graph->n_input, m->graph, inputs, n_inputs);
    if (st == SHR_OK) {
        st = copy_names(m->graph->output, m->graph->n_output, NULL, outputs, n_outputs);
        if (st != SHR_OK) shr_onnx_names_free(*inputs, *n_inputs);
    }
    onnx__model_proto__free_unpacked(m, NULL);
    return st;
}
