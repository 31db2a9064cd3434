package doccheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
)

// GoBlocks returns the Go code blocks of a Markdown text (fenced with
// ```go), each as its lines, with the line of the text it starts on.
func GoBlocks(markdown string) (blocks [][]string, starts []int) {
	var cur []string
	in := false
	for i, line := range strings.Split(markdown, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && trimmed == "```go":
			in, cur = true, nil
			starts = append(starts, i+2)
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, cur)
		case in:
			cur = append(cur, line)
		}
	}
	return blocks, starts
}

// ExampleBodies returns the body of each Example function in the Go
// source src, as its lines, by function name.
func ExampleBodies(filename string, src []byte) (map[string][]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	bodies := map[string][]string{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Example") {
			continue
		}
		from, to := fset.Position(fn.Body.Lbrace).Offset+1, fset.Position(fn.Body.Rbrace).Offset
		bodies[fn.Name.Name] = strings.Split(string(src[from:to]), "\n")
	}
	return bodies, nil
}

// Contains reports whether the lines of block appear in body, one after
// another, as they are but for indentation and the width of spaces (which
// gofmt's alignment of comments changes); blank lines do not count.
func Contains(body, block []string) bool {
	b, k := normalize(body), normalize(block)
	if len(k) == 0 {
		return true
	}
	for i := 0; i+len(k) <= len(b); i++ {
		if equal(b[i:i+len(k)], k) {
			return true
		}
	}
	return false
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// normalize drops blank lines and reduces every run of white space to
// one space.
func normalize(lines []string) []string {
	var out []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return out
}

// Unmatched returns a message for each Go block of markdown that is in
// none of the Example bodies of the Go sources, by file name.
func Unmatched(markdown string, sources map[string][]byte) (msgs []string, blocks int, err error) {
	var bodies [][]string
	for name, src := range sources {
		b, err := ExampleBodies(name, src)
		if err != nil {
			return nil, 0, err
		}
		for _, body := range b {
			bodies = append(bodies, body)
		}
	}
	gb, starts := GoBlocks(markdown)
	for i, block := range gb {
		found := false
		for _, body := range bodies {
			if Contains(body, block) {
				found = true
				break
			}
		}
		if !found {
			msgs = append(msgs, fmt.Sprintf("the Go block at line %d is in no example:\n%s", starts[i], strings.Join(block, "\n")))
		}
	}
	return msgs, len(gb), nil
}
