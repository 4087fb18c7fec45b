/* Internal: a small SVG writer for report plots (compare, sensitivity curves,
 * sparsity maps). Shapes are appended to a growable buffer; shr_svg_end()
 * returns the finished document as a string (the CLI writes it with
 * shr_write_file_atomic). Every piece of text is XML-escaped, numbers are
 * written locale-independently, and allocation failures are reported once, by
 * shr_svg_end(). Coordinates are SVG user units (y grows downwards).
 *
 *   shr_svg s;
 *   shr_svg_begin(&s, 640, 400);
 *   shr_svg_plot(&s, &(shr_plot){.x = 0, .y = 0, .width = 640, .height = 400, ...});
 *   char *text;
 *   SHR_TRY(shr_svg_end(&s, &text));   // free(text) when done
 */
#ifndef SHR_REPORT_SVG_H
#define SHR_REPORT_SVG_H

#include "report/strbuf.h"
#include "shrink/status.h"

typedef struct shr_svg {
    shr_strbuf sb;
    double width, height;
} shr_svg;

typedef enum shr_svg_anchor { SHR_SVG_START = 0, SHR_SVG_MIDDLE, SHR_SVG_END } shr_svg_anchor;

/* Opens a document of width x height units (viewBox 0 0 width height) with a
 * white background and a sans-serif font. */
void shr_svg_begin(shr_svg *s, double width, double height);
/* Closes the document and hands it over (free() it); SHR_ERR_NOMEM if any
 * append failed. s is reset either way. */
shr_status shr_svg_end(shr_svg *s, char **out);
void shr_svg_free(shr_svg *s); /* drops an unfinished document */

/* Colours are any CSS colour ("#0072B2", "none"); NULL means "none". */
void shr_svg_line(shr_svg *s, double x1, double y1, double x2, double y2, const char *stroke, double width);
void shr_svg_polyline(shr_svg *s, const double *x, const double *y, int n, const char *stroke, double width);
void shr_svg_rect(shr_svg *s, double x, double y, double w, double h, const char *fill, const char *stroke);
void shr_svg_circle(shr_svg *s, double cx, double cy, double r, const char *fill, const char *stroke);
/* Text at (x, y) = baseline point; rotate_deg turns it about that point. */
void shr_svg_text(shr_svg *s, double x, double y, const char *text, double size, shr_svg_anchor anchor,
                  const char *fill, double rotate_deg);
/* A group whose shapes show `tooltip` on hover (NULL: no tooltip). */
void shr_svg_group_begin(shr_svg *s, const char *tooltip);
void shr_svg_group_end(shr_svg *s);

/* A rows x cols grid of cells (row-major values in 0..1, e.g. the density of
 * each weight block) drawn from (x, y), each cell cell_w x cell_h, shaded from
 * white (0) to dark blue (1); NaN cells are grey. Values outside 0..1 are clamped. */
void shr_svg_heatmap(shr_svg *s, double x, double y, double cell_w, double cell_h, const float *v, int rows,
                     int cols);
/* The heatmap's colour for a value in 0..1 ("#rrggbb" into buf[8]). */
void shr_svg_ramp(double v, char buf[8]);

/* The i-th colour of a colour-blind-safe palette (cycles). */
const char *shr_svg_palette(int i);

/* Up to cap "nice" tick values (1, 2 or 5 x 10^k apart) inside [lo, hi],
 * aiming at about max_ticks of them; returns the count (0 if the range is
 * empty or not finite). */
int shr_svg_nice_ticks(double lo, double hi, int max_ticks, double *ticks, int cap);
/* Ticks for a log axis over [lo, hi] (lo > 0): powers of ten; 2 and 5
 * multiples added when that gives fewer than 3, all 1..9 multiples when 1-2-5
 * still does. */
int shr_svg_log_ticks(double lo, double hi, double *ticks, int cap);

/* One data series of a scatter / line plot. */
typedef struct shr_plot_series {
    const char *name;          /* legend entry; NULL keeps it out of the legend */
    int n;
    const double *x, *y;       /* non-finite points (and <= 0 on a log axis) are skipped */
    const char *const *labels; /* per-point labels drawn beside the markers, or NULL */
    const int *filled;         /* per point: 1 = filled marker, 0 = hollow; NULL = all filled */
    const char *color;         /* NULL: shr_svg_palette(series index) */
    int line;                  /* join the points in the given order */
    int dashed;                /* dashed line */
    int markers;               /* draw a circle per point */
} shr_plot_series;

/* A plot panel placed at (x, y) in the document: title, axes with nice ticks
 * and grid, axis labels, the series, and a legend row under the title. */
typedef struct shr_plot {
    double x, y, width, height;
    const char *title, *x_label, *y_label;
    int log_x, log_y;
    int n_series;
    const shr_plot_series *series;
} shr_plot;

void shr_svg_plot(shr_svg *s, const shr_plot *p);

#endif
