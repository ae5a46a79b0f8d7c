// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "elfsyms.h"
#include "gopclntab.h"
#include "hashmap.h"
#include "procfile.h"
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

/* Bounds on what is read of a file (a traced program can map a sparse one whose .symtab claims
 * 3 GiB: libelf reads a section whole). Per file: sections, each symbol or string table
 * (Chromium's .symtab is 40 MB), Go's line table, the small ones; per run: the symbol and string
 * table bytes read, all files together. A file over one keeps no symbols from that table
 * (.dynsym is still tried) and is counted. */
#define ELF_MAX_SECTIONS (1u << 17)
#define ELF_MAX_SYMTAB (64u << 20)
#define ELF_MAX_STRTAB (64u << 20)
#define ELF_MAX_PCLNTAB (128u << 20)
#define ELF_MAX_SMALL (1u << 20) /* section names, notes, .gnu_debuglink */
#define ELF_RUN_BUDGET (1ull << 30)

static uint64_t run_bytes; /* symbol and string table bytes read so far */
static size_t skipped;     /* files with a table over a bound */

size_t elfsyms__skipped(void)
{
	return skipped;
}

/* Whether the section's data may be read: within max bytes (NOBITS: none to read) */
static bool section_ok(const GElf_Shdr *sh, uint64_t max)
{
	return sh->sh_type == SHT_NOBITS || sh->sh_size <= max;
}

/* Whether fd is an ELF file with a bounded number of sections (the count libelf allocates for,
 * from the header or, past 0xff00, section 0), read before libelf sees it: 0, -ENOEXEC (not
 * ELF), -EFBIG (too many sections) */
static int headers_ok(int fd)
{
	unsigned char eh[64];
	uint64_t shoff, n;
	uint16_t shnum;

	if (pread(fd, eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh, ELFMAG, SELFMAG))
		return -ENOEXEC;
	if (eh[EI_CLASS] == ELFCLASS64) {
		memcpy(&shoff, eh + offsetof(Elf64_Ehdr, e_shoff), 8);
		memcpy(&shnum, eh + offsetof(Elf64_Ehdr, e_shnum), 2);
		if (shnum || !shoff)
			return 0;
		if (pread(fd, &n, 8, (off_t)(shoff + offsetof(Elf64_Shdr, sh_size))) != 8)
			return -ENOEXEC;
	} else if (eh[EI_CLASS] == ELFCLASS32) {
		uint32_t off32, n32;

		memcpy(&off32, eh + offsetof(Elf32_Ehdr, e_shoff), 4);
		memcpy(&shnum, eh + offsetof(Elf32_Ehdr, e_shnum), 2);
		if (shnum || !off32)
			return 0;
		if (pread(fd, &n32, 4, (off_t)(off32 + offsetof(Elf32_Shdr, sh_size))) != 4)
			return -ENOEXEC;
		n = n32;
	} else {
		return -ENOEXEC;
	}
	return n <= ELF_MAX_SECTIONS ? 0 : -EFBIG;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The function symbols of a symbol table; false (nothing read) if it or its strings are over
 * their bounds, or over what is left of the run's budget */
static bool load_symtab(struct elf_syms *es, Elf *elf, Elf_Scn *scn, GElf_Shdr *sh)
{
	Elf_Scn *strscn = elf_getscn(elf, sh->sh_link);
	GElf_Shdr strsh;
	Elf_Data *data;
	size_t i, n;
	uint64_t cost;

	if (!strscn || !gelf_getshdr(strscn, &strsh))
		return true; /* nothing to read: not a budget's doing */
	cost = (sh->sh_type == SHT_NOBITS ? 0 : sh->sh_size) + (strsh.sh_type == SHT_NOBITS ? 0 : strsh.sh_size);
	if (!section_ok(sh, ELF_MAX_SYMTAB) || !section_ok(&strsh, ELF_MAX_STRTAB) ||
	    cost > ELF_RUN_BUDGET - run_bytes)
		return false;
	run_bytes += cost;
	data = elf_getdata(scn, NULL);
	if (!data || !sh->sh_entsize)
		return true;
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
	return true;
}

static void add_go_func(void *ctx, uint64_t addr, uint64_t size, const char *name)
{
	struct elf_syms *es = ctx;

	GROW(es->syms, es->cap, es->n + 1);
	es->syms[es->n++] = (struct sym){ addr, size, intern(name) };
}

/* The .symtab of a separate debug file (Debian's -dbg/-dbgsym packages): by build id under
 * /usr/lib/debug/.build-id, else by .gnu_debuglink under /usr/lib/debug. The tool's own files:
 * never beside the traced file (its directory is the traced program's: anything can be planted
 * there). Opened as regular files only, a FIFO under the name never blocks us. */
static bool load_debug_file(struct elf_syms *es, const char *path, const uint8_t *id, size_t idlen,
			    const char *link, bool *over)
{
	char cand[2][4096], dir[2048];
	int nc = 0, i;
	size_t k;

	if (idlen >= 2 && idlen <= 64) {
		int o = snprintf(cand[nc], sizeof(cand[0]), "/usr/lib/debug/.build-id/%02x/", id[0]);

		for (k = 1; k < idlen; k++)
			o += snprintf(cand[nc] + o, sizeof(cand[0]) - o, "%02x", id[k]);
		snprintf(cand[nc] + o, sizeof(cand[0]) - o, ".debug");
		nc++;
	}
	/* d_path's names have no "..": the candidate stays under /usr/lib/debug */
	if (link && *link && !strchr(link, '/') && strcmp(link, "..") && path[0] == '/' && !strstr(path, "/../")) {
		const char *slash = strrchr(path, '/');

		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		snprintf(cand[nc++], sizeof(cand[0]), "/usr/lib/debug%s/%s", dir, link);
	}
	for (i = 0; i < nc; i++) {
		Elf_Scn *scn = NULL;
		Elf *elf;
		int fd;

		if (!strcmp(cand[i], path) || (fd = open_regular(cand[i])) < 0)
			continue;
		elf = !headers_ok(fd) ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
		while (elf && elf_kind(elf) == ELF_K_ELF && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB) {
				if (!load_symtab(es, elf, scn, &sh))
					*over = true;
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

/* The symbols of the ELF file open at fd (path: its name, for its debug file) */
static struct elf_syms *load(int fd, const char *path)
{
	Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL, *pcln = NULL;
	GElf_Shdr symsh, dynsh;
	uint64_t text_vaddr = 0;
	const uint8_t *build_id = NULL;
	size_t build_id_len = 0;
	const char *debuglink = NULL;
	struct elf_syms *es;
	size_t shstrndx, nph, i;
	bool over = false;
	Elf_Scn *names;
	GElf_Shdr namesh;
	Elf *elf;
	int err;

	err = headers_ok(fd);
	if (err) { /* not ELF, or more sections than libelf should allocate for */
		skipped += err == -EFBIG;
		return NULL;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) ||
	    elf_getphdrnum(elf, &nph) ||
	    ((names = elf_getscn(elf, shstrndx)) && gelf_getshdr(names, &namesh) && !section_ok(&namesh, ELF_MAX_SMALL))) {
		if (elf)
			elf_end(elf);
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
			if (!section_ok(&sh, ELF_MAX_SMALL)) {
				over = true;
				continue;
			}
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
			Elf_Data *d = section_ok(&sh, ELF_MAX_SMALL) ? elf_getdata(scn, NULL) : NULL;

			over |= !d;
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
	if (symtab && !load_symtab(es, elf, symtab, &symsh))
		over = true;
	/* stripped: a debug file if one is installed, Go's own table, else the dynamic symbols */
	if (!symtab && (build_id || debuglink))
		load_debug_file(es, path, build_id, build_id_len, debuglink, &over);
	if (!symtab && pcln && !es->n) {
		GElf_Shdr psh;
		Elf_Data *d = gelf_getshdr(pcln, &psh) && section_ok(&psh, ELF_MAX_PCLNTAB) ? elf_getdata(pcln, NULL) : NULL;

		over |= !d;
		if (d && d->d_buf)
			gopclntab__parse(d->d_buf, d->d_size, text_vaddr, add_go_func, es);
	}
	if (dynsym && !es->n && !load_symtab(es, elf, dynsym, &dynsh))
		over = true;
	skipped += over;
	if (es->n)
		qsort(es->syms, es->n, sizeof(*es->syms), sym_cmp);
	elf_end(elf);
	return es;
}

/* The table of the file fd (key: its file_key), loaded on first sight of the file */
static const struct elf_syms *get_fd(int fd, const char *key, const char *path)
{
	uint64_t *slot;
	bool created;

	if (!cache) {
		elf_version(EV_CURRENT);
		cache = hashmap__new();
	}
	slot = hashmap__upsert(cache, (uint64_t)(uintptr_t)key, &created);
	if (created)
		*slot = (uint64_t)(uintptr_t)load(fd, path);
	return (const struct elf_syms *)(uintptr_t)*slot;
}

const struct elf_syms *elfsyms__get_ref(const struct file_ref *r)
{
	const struct elf_syms *es;
	uint64_t *slot;
	struct stat st;
	int fd;

	if (r->ino && cache && (slot = hashmap__find(cache, (uint64_t)(uintptr_t)file_key(r->dev, r->ino)))) {
		file_unpin(r->dev, r->ino); /* read: no longer needed at hand */
		return (const struct elf_syms *)(uintptr_t)*slot;
	}
	fd = open_ref(r, &st);
	if (fd < 0)
		return NULL; /* not cached: the file may be seen through another process */
	es = get_fd(fd, file_key(kernel_dev(st.st_dev), st.st_ino), r->path);
	close(fd);
	file_unpin(kernel_dev(st.st_dev), st.st_ino);
	return es;
}

bool elfsyms__cached(uint32_t dev, uint64_t ino)
{
	return cache && hashmap__find(cache, (uint64_t)(uintptr_t)file_key(dev, ino));
}

const struct elf_syms *elfsyms__get(const char *path)
{
	const struct elf_syms *es;
	struct stat st;
	int fd = open_regular(path);

	if (fd < 0)
		return NULL;
	es = fstat(fd, &st) ? NULL : get_fd(fd, file_key(kernel_dev(st.st_dev), st.st_ino), path);
	close(fd);
	return es;
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
