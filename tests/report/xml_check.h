/* A strict little well-formedness check for the XML the report writers emit
 * (SVG): balanced tags, quoted attributes, only known entities, no raw '<' or
 * '&' in text. Returns NULL if well-formed, else a static description. */
#ifndef SHR_TEST_XML_CHECK_H
#define SHR_TEST_XML_CHECK_H

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *xml_entity_ok(const char **pp) {
    static const char *known[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#39;"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strncmp(*pp, known[i], strlen(known[i])) == 0) {
            *pp += strlen(known[i]);
            return NULL;
        }
    return "unknown entity";
}

static const char *xml_check(const char *p) {
    char stack[64][64];
    int depth = 0, roots = 0;
    while (*p) {
        if (*p == '&') {
            const char *e = xml_entity_ok(&p);
            if (e) return e;
            continue;
        }
        if (*p != '<') {
            if (depth == 0 && !isspace((unsigned char)*p)) return "text outside the root element";
            p++;
            continue;
        }
        if (strncmp(p, "<?", 2) == 0) {
            if (!(p = strstr(p, "?>"))) return "unterminated <?";
            p += 2;
            continue;
        }
        if (strncmp(p, "<!--", 4) == 0) {
            if (!(p = strstr(p, "-->"))) return "unterminated comment";
            p += 3;
            continue;
        }
        int closing = p[1] == '/';
        p += closing ? 2 : 1;
        char name[64];
        size_t n = 0;
        while (isalnum((unsigned char)*p) || *p == '-' || *p == ':' || *p == '_') {
            if (n + 1 >= sizeof name) return "tag name too long";
            name[n++] = *p++;
        }
        name[n] = '\0';
        if (n == 0) return "'<' not starting a tag";
        if (closing) {
            while (isspace((unsigned char)*p)) p++;
            if (*p != '>') return "bad closing tag";
            p++;
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0) return "mismatched closing tag";
            depth--;
            continue;
        }
        for (;;) {
            while (isspace((unsigned char)*p)) p++;
            if (*p == '>' || (p[0] == '/' && p[1] == '>')) break;
            if (!isalpha((unsigned char)*p)) return "bad attribute name";
            while (isalnum((unsigned char)*p) || *p == '-' || *p == ':' || *p == '_') p++;
            if (*p++ != '=') return "attribute without '='";
            char q = *p++;
            if (q != '"' && q != '\'') return "unquoted attribute value";
            while (*p && *p != q) {
                if (*p == '<') return "'<' in an attribute value";
                if (*p == '&') {
                    const char *e = xml_entity_ok(&p);
                    if (e) return e;
                } else {
                    p++;
                }
            }
            if (*p++ != q) return "unterminated attribute value";
        }
        if (*p == '/') {
            p += 2;
            if (depth == 0) roots++;
            continue;
        }
        p++;
        if (depth == 0) roots++;
        if (depth == 64) return "nesting too deep for the checker";
        snprintf(stack[depth++], sizeof stack[0], "%s", name);
    }
    if (depth != 0) return "unclosed element";
    if (roots != 1) return "not exactly one root element";
    return NULL;
}

#endif
