/* SVG writer: shapes, text, and a scatter/line plot with nice axes. */
#include "report/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void num(shr_svg *s, double v) { shr_sb_num(&s->sb, v, 6); }

static void attr_color(shr_svg *s, const char *name, const char *color) {
    shr_sb_printf(&s->sb, " %s=\"", name);
    shr_sb_xml(&s->sb, color ? color : "none");
    shr_sb_puts(&s->sb, "\"");
}

static void attr_num(shr_svg *s, const char *name, double v) {
    shr_sb_printf(&s->sb, " %s=\"", name);
    num(s, v);
    shr_sb_puts(&s->sb, "\"");
}

void shr_svg_begin(shr_svg *s, double width, double height) {
    memset(s, 0, sizeof *s);
    s->width = width;
    s->height = height;
    shr_sb_puts(&s->sb, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
    attr_num(s, "width", width);
    attr_num(s, "height", height);
    shr_sb_puts(&s->sb, " viewBox=\"0 0 ");
    num(s, width);
    shr_sb_puts(&s->sb, " ");
    num(s, height);
    shr_sb_puts(&s->sb, "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n");
    shr_svg_rect(s, 0, 0, width, height, "#ffffff", NULL);
}

shr_status shr_svg_end(shr_svg *s, char **out) {
    shr_sb_puts(&s->sb, "</svg>\n");
    return shr_sb_take(&s->sb, out);
}

void shr_svg_free(shr_svg *s) { shr_sb_free(&s->sb); }

void shr_svg_line(shr_svg *s, double x1, double y1, double x2, double y2, const char *stroke, double width) {
    shr_sb_puts(&s->sb, "<line");
    attr_num(s, "x1", x1);
    attr_num(s, "y1", y1);
    attr_num(s, "x2", x2);
    attr_num(s, "y2", y2);
    attr_color(s, "stroke", stroke);
    attr_num(s, "stroke-width", width);
    shr_sb_puts(&s->sb, "/>\n");
}

static void polyline(shr_svg *s, const double *x, const double *y, int n, const char *stroke, double width,
                     int dashed) {
    if (n <= 0) return;
    shr_sb_puts(&s->sb, "<polyline points=\"");
    for (int i = 0; i < n; i++) {
        if (i) shr_sb_puts(&s->sb, " ");
        num(s, x[i]);
        shr_sb_puts(&s->sb, ",");
        num(s, y[i]);
    }
    shr_sb_puts(&s->sb, "\" fill=\"none\"");
    attr_color(s, "stroke", stroke);
    attr_num(s, "stroke-width", width);
    if (dashed) shr_sb_puts(&s->sb, " stroke-dasharray=\"5,4\"");
    shr_sb_puts(&s->sb, "/>\n");
}

void shr_svg_polyline(shr_svg *s, const double *x, const double *y, int n, const char *stroke, double width) {
    polyline(s, x, y, n, stroke, width, 0);
}

void shr_svg_rect(shr_svg *s, double x, double y, double w, double h, const char *fill, const char *stroke) {
    shr_sb_puts(&s->sb, "<rect");
    attr_num(s, "x", x);
    attr_num(s, "y", y);
    attr_num(s, "width", w > 0 ? w : 0);
    attr_num(s, "height", h > 0 ? h : 0);
    attr_color(s, "fill", fill);
    attr_color(s, "stroke", stroke);
    shr_sb_puts(&s->sb, "/>\n");
}

void shr_svg_circle(shr_svg *s, double cx, double cy, double r, const char *fill, const char *stroke) {
    shr_sb_puts(&s->sb, "<circle");
    attr_num(s, "cx", cx);
    attr_num(s, "cy", cy);
    attr_num(s, "r", r);
    attr_color(s, "fill", fill);
    attr_color(s, "stroke", stroke);
    if (stroke) shr_sb_puts(&s->sb, " stroke-width=\"1.5\"");
    shr_sb_puts(&s->sb, "/>\n");
}

void shr_svg_text(shr_svg *s, double x, double y, const char *text, double size, shr_svg_anchor anchor,
                  const char *fill, double rotate_deg) {
    static const char *anchors[] = {"start", "middle", "end"};
    shr_sb_puts(&s->sb, "<text");
    attr_num(s, "x", x);
    attr_num(s, "y", y);
    attr_num(s, "font-size", size);
    shr_sb_printf(&s->sb, " text-anchor=\"%s\"", anchors[anchor >= 0 && anchor <= 2 ? anchor : 0]);
    attr_color(s, "fill", fill ? fill : "#222222");
    if (rotate_deg != 0) {
        shr_sb_puts(&s->sb, " transform=\"rotate(");
        num(s, rotate_deg);
        shr_sb_puts(&s->sb, " ");
        num(s, x);
        shr_sb_puts(&s->sb, " ");
        num(s, y);
        shr_sb_puts(&s->sb, ")\"");
    }
    shr_sb_puts(&s->sb, ">");
    shr_sb_xml(&s->sb, text);
    shr_sb_puts(&s->sb, "</text>\n");
}

void shr_svg_group_begin(shr_svg *s, const char *tooltip) {
    shr_sb_puts(&s->sb, "<g>");
    if (tooltip) {
        shr_sb_puts(&s->sb, "<title>");
        shr_sb_xml(&s->sb, tooltip);
        shr_sb_puts(&s->sb, "</title>");
    }
    shr_sb_puts(&s->sb, "\n");
}

void shr_svg_group_end(shr_svg *s) { shr_sb_puts(&s->sb, "</g>\n"); }

void shr_svg_ramp(double v, char buf[8]) {
    /* Linear from #f7fbff to #08306b: monotone in lightness, readable in grey. */
    static const int lo[3] = {0xf7, 0xfb, 0xff}, hi[3] = {0x08, 0x30, 0x6b};
    v = isnan(v) ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
    int c[3];
    for (int i = 0; i < 3; i++) c[i] = (int)lround(lo[i] + v * (hi[i] - lo[i]));
    snprintf(buf, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

void shr_svg_heatmap(shr_svg *s, double x, double y, double cell_w, double cell_h, const float *v, int rows,
                     int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            float val = v[(size_t)r * (size_t)cols + (size_t)c];
            char color[8];
            shr_svg_ramp(val, color);
            shr_svg_rect(s, x + c * cell_w, y + r * cell_h, cell_w, cell_h, isnan(val) ? "#bbbbbb" : color, NULL);
        }
}

const char *shr_svg_palette(int i) {
    /* Okabe-Ito: distinguishable with the common colour-vision deficiencies. */
    static const char *pal[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
    int n = (int)(sizeof pal / sizeof pal[0]);
    return pal[((i % n) + n) % n];
}

int shr_svg_nice_ticks(double lo, double hi, int max_ticks, double *ticks, int cap) {
    if (!isfinite(lo) || !isfinite(hi) || hi <= lo || max_ticks < 2 || cap < 1) return 0;
    double raw = (hi - lo) / (max_ticks - 1), mag = pow(10, floor(log10(raw))), step = mag;
    static const double mult[] = {1, 2, 5, 10};
    for (int i = 0; i < 4; i++)
        if ((step = mult[i] * mag) >= raw * (1 - 1e-9)) break;
    int n = 0;
    /* k * step, not repeated addition: no drift, and 0 stays exactly 0. */
    for (double k = ceil(lo / step - 1e-9); n < cap && k * step <= hi + 1e-9 * step; k++)
        ticks[n++] = k * step + 0.0; /* + 0.0 turns -0 into 0: no "-0" label */
    return n;
}

int shr_svg_log_ticks(double lo, double hi, double *ticks, int cap) {
    if (!(lo > 0) || !isfinite(hi) || hi <= lo || cap < 1) return 0;
    static const double sets[3][9] = {{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int sizes[3] = {1, 3, 9};
    int n = 0;
    for (int set = 0; set < 3; set++) {
        n = 0;
        for (double e = floor(log10(lo)); e <= ceil(log10(hi)) && n < cap; e++)
            for (int m = 0; m < sizes[set] && n < cap; m++) {
                double t = sets[set][m] * pow(10, e);
                if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks[n++] = t;
            }
        if (n >= 3) break; /* 1..9 multiples only when 1-2-5 gives too few: their labels crowd */
    }
    return n;
}

/* Data -> pixel mapping of one axis. */
typedef struct axis {
    double lo, hi, p0, p1; /* data range (log10 on a log axis) onto pixels p0..p1 */
    int log;
} axis;

static int usable(const axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }

static double to_px(const axis *a, double v) {
    double t = a->log ? log10(v) : v;
    return a->p0 + (t - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* Range over all usable points, padded by 6% so markers sit inside the frame. */
static void fit_axis(axis *a, const shr_plot *p, int use_x) {
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < p->n_series; i++)
        for (int k = 0; k < p->series[i].n; k++) {
            double v = use_x ? p->series[i].x[k] : p->series[i].y[k];
            if (!usable(a, v)) continue;
            v = a->log ? log10(v) : v;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    if (lo > hi) lo = 0, hi = 1;
    if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
        double w = a->log ? 0.5 : fmax(fabs(hi) * 0.05, 1e-3);
        lo -= w;
        hi += w;
    }
    double pad = 0.06 * (hi - lo);
    a->lo = lo - pad;
    a->hi = hi + pad;
}

static void tick_label(char *buf, size_t size, double v, double step, int log) {
    if (log || fabs(v) >= 1e6 || step <= 0) {
        snprintf(buf, size, "%g", v);
        return;
    }
    int dec = (int)fmax(0, -floor(log10(step) + 1e-9));
    snprintf(buf, size, "%.*f", dec > 6 ? 6 : dec, v);
}

static void draw_axis_ticks(shr_svg *s, const axis *a, int is_x, double other0, double other1) {
    double ticks[64];
    int n = a->log ? shr_svg_log_ticks(pow(10, a->lo), pow(10, a->hi), ticks, 64)
                   : shr_svg_nice_ticks(a->lo, a->hi, 6, ticks, 64);
    double step = n > 1 ? ticks[1] - ticks[0] : 0;
    for (int i = 0; i < n; i++) {
        double px = to_px(a, ticks[i]);
        char label[48];
        tick_label(label, sizeof label, ticks[i], step, a->log);
        if (is_x) {
            shr_svg_line(s, px, other0, px, other1, "#e4e4e4", 1);
            shr_svg_text(s, px, other0 + 16, label, 11, SHR_SVG_MIDDLE, "#444444", 0);
        } else {
            shr_svg_line(s, other0, px, other1, px, "#e4e4e4", 1);
            shr_svg_text(s, other0 - 6, px + 4, label, 11, SHR_SVG_END, "#444444", 0);
        }
    }
}

/* Greedy label placement: the first of four spots beside the marker that
 * overlaps no label placed so far and stays inside the frame. */
typedef struct box {
    double x0, y0, x1, y1;
} box;

static void place_label(shr_svg *s, double px, double py, const char *text, const box *frame, box *placed,
                        int *n_placed) {
    double w = 6.2 * (double)strlen(text), h = 11;
    static const double dx[4] = {7, 7, -7, -7}, dy[4] = {-6, 14, -6, 14};
    int pick = 0;
    for (int c = 0; c < 4; c++) {
        double x0 = dx[c] > 0 ? px + dx[c] : px + dx[c] - w, y1 = py + dy[c], y0 = y1 - h;
        box b = {x0, y0, x0 + w, y1};
        int ok = b.x0 >= frame->x0 && b.x1 <= frame->x1 && b.y0 >= frame->y0 && b.y1 <= frame->y1;
        for (int i = 0; ok && i < *n_placed; i++)
            ok = b.x1 < placed[i].x0 || b.x0 > placed[i].x1 || b.y1 < placed[i].y0 || b.y0 > placed[i].y1;
        if (ok) {
            pick = c;
            break;
        }
    }
    double x0 = dx[pick] > 0 ? px + dx[pick] : px + dx[pick] - w, y1 = py + dy[pick];
    if (*n_placed < 256) placed[(*n_placed)++] = (box){x0, y1 - h, x0 + w, y1};
    shr_svg_text(s, dx[pick] > 0 ? x0 : x0 + w, y1 - 2, text, 10, dx[pick] > 0 ? SHR_SVG_START : SHR_SVG_END,
                 "#333333", 0);
}

static void draw_series(shr_svg *s, const shr_plot_series *ser, int index, const axis *ax, const axis *ay,
                        const box *frame, box *placed, int *n_placed) {
    const char *color = ser->color ? ser->color : shr_svg_palette(index);
    if (ser->line) {
        /* One polyline per run of usable points. */
        double xs[512], ys[512];
        int m = 0;
        for (int k = 0; k <= ser->n; k++) {
            int ok = k < ser->n && usable(ax, ser->x[k]) && usable(ay, ser->y[k]);
            if (ok && m < 512) {
                xs[m] = to_px(ax, ser->x[k]);
                ys[m++] = to_px(ay, ser->y[k]);
            }
            if ((!ok || m == 512) && m > 0) {
                polyline(s, xs, ys, m, color, 2, ser->dashed);
                m = 0;
            }
        }
    }
    for (int k = 0; ser->markers && k < ser->n; k++) {
        if (!usable(ax, ser->x[k]) || !usable(ay, ser->y[k])) continue;
        double px = to_px(ax, ser->x[k]), py = to_px(ay, ser->y[k]);
        int filled = !ser->filled || ser->filled[k];
        const char *label = ser->labels ? ser->labels[k] : NULL;
        shr_svg_group_begin(s, label);
        shr_svg_circle(s, px, py, 4.5, filled ? color : "#ffffff", color);
        shr_svg_group_end(s);
    }
    for (int k = 0; ser->labels && k < ser->n; k++)
        if (ser->labels[k] && usable(ax, ser->x[k]) && usable(ay, ser->y[k]))
            place_label(s, to_px(ax, ser->x[k]), to_px(ay, ser->y[k]), ser->labels[k], frame, placed, n_placed);
}

static void draw_legend(shr_svg *s, const shr_plot *p, double x, double y) {
    for (int i = 0; i < p->n_series; i++) {
        const shr_plot_series *ser = &p->series[i];
        if (!ser->name) continue;
        const char *color = ser->color ? ser->color : shr_svg_palette(i);
        if (ser->line) {
            double lx[2] = {x, x + 18}, ly[2] = {y - 4, y - 4};
            polyline(s, lx, ly, 2, color, 2, ser->dashed);
        }
        if (ser->markers) shr_svg_circle(s, x + 9, y - 4, 4, color, color);
        shr_svg_text(s, x + 24, y, ser->name, 11, SHR_SVG_START, "#333333", 0);
        x += 24 + 6.5 * (double)strlen(ser->name) + 18;
    }
}

void shr_svg_plot(shr_svg *s, const shr_plot *p) {
    /* Margins: title + legend on top, tick labels and axis labels left/bottom. */
    double left = p->x + 64, right = p->x + p->width - 16, top = p->y + 52, bottom = p->y + p->height - 44;
    if (right - left < 20) right = left + 20;
    if (bottom - top < 20) bottom = top + 20;
    axis ax = {.p0 = left, .p1 = right, .log = p->log_x}, ay = {.p0 = bottom, .p1 = top, .log = p->log_y};
    fit_axis(&ax, p, 1);
    fit_axis(&ay, p, 0);
    if (p->title) shr_svg_text(s, p->x + p->width / 2, p->y + 18, p->title, 14, SHR_SVG_MIDDLE, "#111111", 0);
    draw_legend(s, p, left, p->y + 38);
    draw_axis_ticks(s, &ax, 1, bottom, top);
    draw_axis_ticks(s, &ay, 0, left, right);
    shr_svg_rect(s, left, top, right - left, bottom - top, NULL, "#888888");
    if (p->x_label)
        shr_svg_text(s, (left + right) / 2, p->y + p->height - 8, p->x_label, 12, SHR_SVG_MIDDLE, "#222222", 0);
    if (p->y_label)
        shr_svg_text(s, p->x + 14, (top + bottom) / 2, p->y_label, 12, SHR_SVG_MIDDLE, "#222222", -90);
    box frame = {left, top, right, bottom}, placed[256];
    int n_placed = 0;
    for (int i = 0; i < p->n_series; i++) draw_series(s, &p->series[i], i, &ax, &ay, &frame, placed, &n_placed);
}
