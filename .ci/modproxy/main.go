// Command modproxy writes a directory that serves shmkv's published modules
// as a Go module proxy (GOPROXY=file://DIR), made from a git checkout as
// tags on its HEAD would publish them: github.com/shmkv/shmkv, .../redisnear
// and .../promshmkv, all at the version of github.com/shmkv/shmkv that the
// sub-modules require. It is how CI proves that a consumer outside the tree
// can fetch and build each module with no replace (.ci/modproof).
//
// It fails if a published go.mod has a replace directive (Go ignores a
// dependency's replace, so a consumer could not build it) or if the
// sub-modules do not require one release of github.com/shmkv/shmkv.
//
//	modproxy [-worktree] REPO DIR
//
// prints the version served. With -worktree the files are the work tree's,
// committed or not (untracked files included); by default they are HEAD's,
// through git archive, as the go command fetches a tag (honouring
// export-ignore in .gitattributes).
package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

const root = "github.com/shmkv/shmkv"

// published are the directories of the modules a consumer fetches, relative
// to the repository root. bench/ is not published.
var published = []string{"", "redisnear", "promshmkv"}

func main() {
	worktree := flag.Bool("worktree", false, "serve the work tree's files instead of HEAD's")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: modproxy [-worktree] REPO DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	repo, err := filepath.Abs(flag.Arg(0))
	if err == nil {
		var v string
		v, err = run(repo, flag.Arg(1), *worktree)
		if err == nil {
			fmt.Println(v)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func run(repo, out string, worktree bool) (string, error) {
	src := source{repo: repo, tree: repo}
	if !worktree {
		tmp, err := os.MkdirTemp("", "modproxy")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)
		if _, err := src.git("archive", "-o", filepath.Join(tmp, "head.tar"), "HEAD"); err != nil {
			return "", err
		}
		src.tree = filepath.Join(tmp, "head")
		if err := os.Mkdir(src.tree, 0o755); err != nil {
			return "", err
		}
		cmd := exec.Command("tar", "-xf", filepath.Join(tmp, "head.tar"), "-C", src.tree)
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("tar: %v: %s", err, b)
		}
		src.commit = true
	}
	version := ""
	for _, dir := range published {
		f, err := src.goMod(dir)
		if err != nil {
			return "", err
		}
		want := modPath(dir)
		if f.Module == nil || f.Module.Mod.Path != want {
			return "", fmt.Errorf("%s: module path is not %s", goModName(dir), want)
		}
		if len(f.Replace) > 0 {
			r := f.Replace[0]
			return "", fmt.Errorf("%s: replace %s => %s: Go ignores a dependency's replace, so a consumer cannot build this module; use go.work for development", goModName(dir), r.Old.Path, r.New.Path)
		}
		if dir == "" {
			continue
		}
		v := requiredVersion(f, root)
		if v == "" {
			return "", fmt.Errorf("%s does not require %s", goModName(dir), root)
		}
		if version != "" && v != version {
			return "", fmt.Errorf("the sub-modules require different releases of %s: %s and %s", root, version, v)
		}
		version = v
	}
	if semver.Prerelease(version) != "" || semver.Build(version) != "" || !semver.IsValid(version) {
		return "", fmt.Errorf("the sub-modules require %s %s, which is not a release version vX.Y.Z", root, version)
	}
	stamp, err := src.time()
	if err != nil {
		return "", err
	}
	for _, dir := range published {
		if err := src.serve(out, module.Version{Path: modPath(dir), Version: version}, dir, stamp); err != nil {
			return "", err
		}
	}
	return version, nil
}

func modPath(dir string) string {
	if dir == "" {
		return root
	}
	return root + "/" + dir
}

func goModName(dir string) string { return path.Join(dir, "go.mod") }

func requiredVersion(f *modfile.File, p string) string {
	for _, r := range f.Require {
		if r.Mod.Path == p {
			return r.Mod.Version
		}
	}
	return ""
}

// source is the repository's files: HEAD's, extracted into tree, or the
// work tree's (tree is repo).
type source struct {
	repo   string
	tree   string
	commit bool // tree is HEAD's
}

func (s source) goMod(dir string) (*modfile.File, error) {
	name := goModName(dir)
	data, err := os.ReadFile(filepath.Join(s.tree, filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	return modfile.Parse(name, data, nil)
}

// time is when the served version was made: HEAD's commit time, or now.
func (s source) time() (time.Time, error) {
	if !s.commit {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	b, err := s.git("log", "-1", "--format=%cI", "HEAD")
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	return t.UTC(), err
}

func (s source) git(args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = s.repo
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return b, nil
}

// serve writes m's list, .info, .mod and .zip files under out, the layout
// of a GOPROXY that the go command reads (go help goproxy).
func (s source) serve(out string, m module.Version, dir string, stamp time.Time) error {
	var z bytes.Buffer
	if err := modzip.CreateFromDir(&z, m, filepath.Join(s.tree, filepath.FromSlash(dir))); err != nil {
		return err
	}
	goMod, err := zipFile(z.Bytes(), m.Path+"@"+m.Version+"/go.mod")
	if err != nil {
		return fmt.Errorf("%s: %v", m, err)
	}
	if !hasLicense(z.Bytes(), m) {
		return fmt.Errorf("%s: the module zip has no LICENSE", m)
	}
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	vdir := filepath.Join(out, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{m.Version, stamp})
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"list":              []byte(m.Version + "\n"),
		m.Version + ".info": info,
		m.Version + ".mod":  goMod,
		m.Version + ".zip":  z.Bytes(),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func zipFile(z []byte, name string) ([]byte, error) {
	r, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		return nil, err
	}
	for _, f := range r.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(rc)
		}
	}
	return nil, errors.New("no " + name + " in the module zip")
}

func hasLicense(z []byte, m module.Version) bool {
	_, err := zipFile(z, m.Path+"@"+m.Version+"/LICENSE")
	return err == nil
}
