// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elfsyms.h"
#include "hashmap.h"
#include "strtab.h"
#include "util.h"

struct sym {
	uint64_t addr, size;
	const char *name;
};

struct seg {
	uint64_t off, vaddr, filesz;
};

struct elf_syms {
	struct sym *syms;
	size_t n, cap;
	struct seg *segs;
	size_t nsegs, segcap;
	bool is_go;
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

static struct elf_syms *load(const char *path)
{
	Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL;
	GElf_Shdr symsh, dynsh;
	struct elf_syms *es;
	size_t shstrndx, nph, i;
	Elf *elf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
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
			GROW(es->segs, es->segcap, es->nsegs + 1);
			es->segs[es->nsegs++] = (struct seg){ ph.p_offset, ph.p_vaddr, ph.p_filesz };
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".gopclntab"))
			es->is_go = true;
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
	if (dynsym && (!symtab || !es->n))
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
	uint64_t vaddr = 0;
	size_t i, lo, hi;
	bool mapped = false;

	for (i = 0; i < es->nsegs; i++) {
		const struct seg *s = &es->segs[i];

		if (file_off >= s->off && file_off < s->off + s->filesz) {
			vaddr = file_off - s->off + s->vaddr;
			mapped = true;
			break;
		}
	}
	if (!mapped || !es->n)
		return NULL;
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
	/* sized symbols must contain vaddr; unsized ones extend to the next symbol */
	if (es->syms[i].size && vaddr >= es->syms[i].addr + es->syms[i].size)
		return NULL;
	*sym_off = vaddr - es->syms[i].addr;
	return es->syms[i].name;
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
