// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "elfsyms.h"
#include "gopclntab.h"
#include "hashmap.h"
#include "strtab.h"
#include "util.h"

struct sym {
	uint64_t addr, size;
	const char *name;
};

struct seg {
	uint64_t off, vaddr, filesz;
	bool exec;
};

struct elf_syms {
	struct sym *syms;
	size_t n, cap;
	struct seg *segs;
	size_t nsegs, segcap;
	bool is_go;
	bool has_text;
	uint64_t text_off;  /* file offset of the first executable PT_LOAD */
	const char *build_id; /* NT_GNU_BUILD_ID in hex, interned, or NULL */
};

static struct hashmap *cache; /* interned path -> struct elf_syms * (0: not ELF) */

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void load_symtab(struct elf_syms *es, Elf *elf, Elf_Scn *scn, GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n;

	if (!data || !sh->sh_entsize)
		return;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Sym s;
		const char *name;
		int type;

		if (!gelf_getsym(data, (int)i, &s))
			break;
		type = GELF_ST_TYPE(s.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || !s.st_value || s.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, sh->sh_link, s.st_name);
		if (!name || !*name)
			continue;
		if (!strcmp(name, "runtime.main"))
			es->is_go = true;
		GROW(es->syms, es->cap, es->n + 1);
		es->syms[es->n++] = (struct sym){ s.st_value, s.st_size, intern(name) };
	}
}

static void add_go_func(void *ctx, uint64_t addr, uint64_t size, const char *name)
{
	struct elf_syms *es = ctx;

	GROW(es->syms, es->cap, es->n + 1);
	es->syms[es->n++] = (struct sym){ addr, size, intern(name) };
}

/* The .symtab of a separate debug file (Debian's -dbg/-dbgsym packages): by build id under
 * /usr/lib/debug/.build-id, else by .gnu_debuglink next to the file or under /usr/lib/debug. */
/* Paths come from the traced program (its maps, its .gnu_debuglink): a FIFO there must not block
 * us in open(), and only a regular file is read. */
static bool load_debug_file(struct elf_syms *es, const char *path, const uint8_t *id, size_t idlen,
			    const char *link)
{
	char cand[4][4096], dir[2048];
	int nc = 0, i;
	size_t k;

	if (idlen >= 2 && idlen <= 64) {
		int o = snprintf(cand[nc], sizeof(cand[0]), "/usr/lib/debug/.build-id/%02x/", id[0]);

		for (k = 1; k < idlen; k++)
			o += snprintf(cand[nc] + o, sizeof(cand[0]) - o, "%02x", id[k]);
		snprintf(cand[nc] + o, sizeof(cand[0]) - o, ".debug");
		nc++;
	}
	if (link && *link && !strchr(link, '/')) {
		const char *slash = strrchr(path, '/');

		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0, path);
		snprintf(cand[nc++], sizeof(cand[0]), "%s/%s", dir, link);
		snprintf(cand[nc++], sizeof(cand[0]), "%s/.debug/%s", dir, link);
		snprintf(cand[nc++], sizeof(cand[0]), "/usr/lib/debug%s/%s", dir, link);
	}
	for (i = 0; i < nc; i++) {
		Elf_Scn *scn = NULL;
		Elf *elf;
		int fd;

		if (!strcmp(cand[i], path) || (fd = open_regular(cand[i])) < 0)
			continue;
		elf = elf_begin(fd, ELF_C_READ, NULL);
		while (elf && elf_kind(elf) == ELF_K_ELF && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB) {
				load_symtab(es, elf, scn, &sh);
				break;
			}
		}
		if (elf)
			elf_end(elf);
		close(fd);
		if (es->n)
			return true;
	}
	return false;
}

static struct elf_syms *load(const char *path)
{
	Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL, *pcln = NULL;
	GElf_Shdr symsh, dynsh;
	uint64_t text_vaddr = 0;
	const uint8_t *build_id = NULL;
	size_t build_id_len = 0;
	const char *debuglink = NULL;
	struct elf_syms *es;
	size_t shstrndx, nph, i;
	Elf *elf;
	int fd;

	fd = open_regular(path);
	if (fd < 0)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) ||
	    elf_getphdrnum(elf, &nph)) {
		if (elf)
			elf_end(elf);
		close(fd);
		return NULL;
	}
	es = xcalloc(1, sizeof(*es));
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
			if ((ph.p_flags & PF_X) && !es->has_text) {
				es->has_text = true;
				es->text_off = ph.p_offset;
			}
			GROW(es->segs, es->segcap, es->nsegs + 1);
			es->segs[es->nsegs++] = (struct seg){ ph.p_offset, ph.p_vaddr, ph.p_filesz, ph.p_flags & PF_X };
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			name = "";
		if (!strcmp(name, ".gopclntab")) {
			es->is_go = true;
			pcln = scn;
		} else if (!strcmp(name, ".text")) {
			text_vaddr = sh.sh_addr;
		} else if (sh.sh_type == SHT_NOTE && !strcmp(name, ".note.gnu.build-id")) {
			Elf_Data *d = elf_getdata(scn, NULL);
			GElf_Nhdr nh;
			size_t noff, doff;

			if (d && gelf_getnote(d, 0, &nh, &noff, &doff) && nh.n_type == NT_GNU_BUILD_ID &&
			    doff + nh.n_descsz <= d->d_size) {
				char hex[2 * 64 + 1];

				build_id = (const uint8_t *)d->d_buf + doff;
				build_id_len = nh.n_descsz;
				for (size_t k = 0; k < build_id_len && k < 64; k++)
					snprintf(hex + 2 * k, 3, "%02x", build_id[k]);
				hex[2 * (build_id_len < 64 ? build_id_len : 64)] = 0;
				es->build_id = intern(hex);
			}
		} else if (!strcmp(name, ".gnu_debuglink")) {
			Elf_Data *d = elf_getdata(scn, NULL);

			if (d && d->d_size && memchr(d->d_buf, 0, d->d_size))
				debuglink = d->d_buf;
		}
		if (sh.sh_type == SHT_SYMTAB) {
			symtab = scn;
			symsh = sh;
		} else if (sh.sh_type == SHT_DYNSYM) {
			dynsym = scn;
			dynsh = sh;
		}
	}
	/* .symtab is a superset of .dynsym when present; stripped files only have .dynsym */
	if (symtab)
		load_symtab(es, elf, symtab, &symsh);
	/* stripped: a debug file if one is installed, Go's own table, else the dynamic symbols */
	if (!symtab && (build_id || debuglink))
		load_debug_file(es, path, build_id, build_id_len, debuglink);
	if (!symtab && pcln && !es->n) {
		Elf_Data *d = elf_getdata(pcln, NULL);

		if (d && d->d_buf)
			gopclntab__parse(d->d_buf, d->d_size, text_vaddr, add_go_func, es);
	}
	if (dynsym && !es->n)
		load_symtab(es, elf, dynsym, &dynsh);
	if (es->n)
		qsort(es->syms, es->n, sizeof(*es->syms), sym_cmp);
	elf_end(elf);
	close(fd);
	return es;
}

const struct elf_syms *elfsyms__get(const char *path)
{
	uint64_t *slot;
	bool created;

	if (!cache) {
		elf_version(EV_CURRENT);
		cache = hashmap__new();
	}
	path = intern(path);
	slot = hashmap__upsert(cache, (uint64_t)(uintptr_t)path, &created);
	if (created)
		*slot = (uint64_t)(uintptr_t)load(path);
	return (const struct elf_syms *)(uintptr_t)*slot;
}

const char *elfsyms__lookup(const struct elf_syms *es, uint64_t file_off, uint64_t *sym_off)
{
	const struct seg *s = NULL;
	uint64_t vaddr = 0;
	size_t i, lo, hi;

	/* code is in executable segments: an address elsewhere (a bad return address in
	 * .rodata) is no function's, whatever symbol lies below it */
	for (i = 0; i < es->nsegs && !s; i++)
		if (es->segs[i].exec && file_off >= es->segs[i].off && file_off < es->segs[i].off + es->segs[i].filesz)
			s = &es->segs[i];
	if (!s || !es->n)
		return NULL;
	vaddr = file_off - s->off + s->vaddr;
	/* last symbol starting at or below vaddr */
	lo = 0;
	hi = es->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (es->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	i = lo - 1;
	/* sized symbols must contain vaddr; unsized ones (_init, _fini) extend to the next
	 * symbol, within their segment */
	if (es->syms[i].size ? vaddr >= es->syms[i].addr + es->syms[i].size : es->syms[i].addr < s->vaddr)
		return NULL;
	*sym_off = vaddr - es->syms[i].addr;
	return es->syms[i].name;
}

bool elfsyms__text_offset(const struct elf_syms *es, uint64_t *off)
{
	if (!es || !es->has_text)
		return false;
	*off = es->text_off;
	return true;
}

const char *elfsyms__build_id(const struct elf_syms *es)
{
	return es ? es->build_id : NULL;
}

bool elfsyms__is_go(const struct elf_syms *es)
{
	return es && es->is_go;
}

size_t elfsyms__count(const struct elf_syms *es)
{
	return es ? es->n : 0;
}

void elfsyms__free_all(void)
{
	size_t pos = 0;
	uint64_t k, v;

	if (!cache)
		return;
	while (hashmap__next(cache, &pos, &k, &v)) {
		struct elf_syms *es = (struct elf_syms *)(uintptr_t)v;

		if (!es)
			continue;
		free(es->syms);
		free(es->segs);
		free(es);
	}
	hashmap__free(cache);
	cache = NULL;
}
