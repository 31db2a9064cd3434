// Package doccheck finds what a package's documentation, as go doc shows
// it, should not say: the names of source files, and the package's
// unexported identifiers. Documentation is for users, who see neither;
// it should speak of behaviour.
package doccheck

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// sourceFile matches the name of a Go source file.
var sourceFile = regexp.MustCompile(`\b[\w-]+\.go\b`)

// manSection matches the start of a manual page's section, as in
// fallocate(2): a name so followed is a system call, not code of the
// package.
var manSection = regexp.MustCompile(`^\(\d\)`)

// word matches an identifier.
var word = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// Problems returns what the exported documentation of the package in dir
// says that it should not, one line each: every mention of a source file,
// and every mention of an unexported identifier of the package. A plain
// lower-case word is English as often as it is an identifier, so such a
// word is reported only where it reads as code (after a '.' or "see ",
// or before a '(' that does not open a manual section), or, if it is declared at top level, where it is not
// one of prose: the words the caller has judged to be English in this
// package's documentation ("shard", say).
func Problems(dir string, prose []string) ([]string, error) {
	bp, err := build.Default.ImportDir(dir, 0)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	unexported := unexportedNames(files)
	pkg, err := doc.NewFromFiles(fset, files, bp.ImportPath)
	if err != nil {
		return nil, err
	}
	var problems []string
	check := func(where, text string) {
		for _, m := range sourceFile.FindAllString(text, -1) {
			problems = append(problems, fmt.Sprintf("%s: mentions the source file %s", where, m))
		}
		for _, loc := range word.FindAllStringIndex(text, -1) {
			w := text[loc[0]:loc[1]]
			k := unexported[w]
			asCode := strings.HasSuffix(text[:loc[0]], ".") || strings.HasSuffix(text[:loc[0]], "see ") ||
				strings.HasPrefix(text[loc[1]:], "(") && !manSection.MatchString(text[loc[1]:])
			switch {
			case k == 0,
				k == plainMember && !asCode,
				k == plainTop && !asCode && slices.Contains(prose, w):
				continue
			}
			problems = append(problems, fmt.Sprintf("%s: mentions the unexported identifier %s", where, w))
		}
	}
	check("package doc", pkg.Doc)
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			where := strings.Join(v.Names, ", ")
			check(where, v.Doc)
			declComments(v.Decl, func(c string) { check(where, c) })
		}
	}
	funcs := func(fs []*doc.Func) {
		for _, f := range fs {
			where := f.Name
			if f.Recv != "" {
				where = strings.TrimPrefix(f.Recv, "*") + "." + f.Name
			}
			check(where, f.Doc)
		}
	}
	values(pkg.Consts)
	values(pkg.Vars)
	funcs(pkg.Funcs)
	for _, t := range pkg.Types {
		check(t.Name, t.Doc)
		declComments(t.Decl, func(c string) { check(t.Name, c) })
		values(t.Consts)
		values(t.Vars)
		funcs(t.Funcs)
		funcs(t.Methods)
	}
	return problems, nil
}

// plainWord reports whether w is all lower-case letters, as a word of
// prose is.
func plainWord(w string) bool {
	for _, r := range w {
		if !unicode.IsLower(r) {
			return false
		}
	}
	return true
}

// declComments calls fn with every comment inside decl (those of fields
// and of the values of a group), which go doc prints with it. doc has
// already removed the unexported fields and values, and their comments.
func declComments(decl *ast.GenDecl, fn func(string)) {
	ast.Inspect(decl, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Field:
			fn(n.Doc.Text())
			fn(n.Comment.Text())
		case *ast.ValueSpec:
			fn(n.Doc.Text())
			fn(n.Comment.Text())
		case *ast.TypeSpec:
			fn(n.Comment.Text())
		}
		return true
	})
}

// How an unexported name is checked.
type kind int

const (
	compound    kind = iota + 1 // camelCase, digits, '_': never prose; always reported
	plainTop                    // a plain word declared at top level: reported unless prose says it is English there
	plainMember                 // a plain word naming a method or field: reported only as code
)

// unexportedNames returns the unexported identifiers declared in files,
// at top level, as methods, and as fields of struct types, and how each
// is checked.
func unexportedNames(files []*ast.File) map[string]kind {
	names := map[string]kind{}
	add := func(id *ast.Ident, top bool) {
		if id == nil || id.Name == "_" || id.IsExported() {
			return
		}
		k := compound
		switch {
		case plainWord(id.Name) && top:
			k = plainTop
		case plainWord(id.Name):
			k = plainMember
		}
		if names[id.Name] == 0 || k < names[id.Name] {
			names[id.Name] = k
		}
	}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				add(d.Name, d.Recv == nil)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							add(n, true)
						}
					case *ast.TypeSpec:
						add(s.Name, true)
						ast.Inspect(s.Type, func(n ast.Node) bool {
							if f, ok := n.(*ast.Field); ok {
								for _, n := range f.Names {
									add(n, false)
								}
							}
							return true
						})
					}
				}
			}
		}
	}
	delete(names, "init")
	return names
}
