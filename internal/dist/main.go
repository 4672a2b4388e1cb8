// Command dist writes the release archives of both tools (make dist): for
// each platform a customer runs, a tar.gz (Linux, macOS) or a zip
// (Windows) holding activator, issuer, README.md and SECURITY.md under one
// directory named airlock_VERSION_OS_ARCH, and SHA256SUMS over them (the
// format sha256sum -c reads).
//
// # Reproducible
//
// Two runs on the same commit with the same Go toolchain write the same
// bytes, wherever the checkout is and whoever runs it (make dist-check
// proves it from two clones with separate build caches):
//   - binaries: CGO_ENABLED=0, -trimpath (no checkout or GOROOT paths),
//     -ldflags=-buildid= (no build id), GOFLAGS cleared and GOAMD64,
//     GOARM64 pinned to their defaults so that a builder's environment
//     cannot change the code; Go's VCS stamp (go version -m shows the
//     commit, its time and whether the tree was modified) is the same for
//     every clean checkout of a commit;
//   - archives: entries in name order, owner 0 without names, every
//     modification time the commit's (or SOURCE_DATE_EPOCH), gzip without
//     a name or time (see writeTarGz and writeZip).
//
// The version in the names is git describe --tags --always --dirty
// (-version overrides it).
package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// targets are the release platforms (issue 13: Linux, Windows and macOS on
// amd64 and arm64).
var targets = []string{"linux/amd64", "linux/arm64", "windows/amd64", "windows/arm64", "darwin/amd64", "darwin/arm64"}

var tools = []string{"activator", "issuer"}

// docs go into every archive when present.
var docs = []string{"README.md", "SECURITY.md", "LICENSE"}

func main() {
	out := flag.String("o", "dist", "directory to write the archives and SHA256SUMS into")
	version := flag.String("version", "", "version in the archive names (default: git describe --tags --always --dirty)")
	flag.Parse()
	if err := run(*out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func run(out, version string) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run it from the module's root (make dist)")
	}
	if version == "" {
		v, err := git("describe", "--tags", "--always", "--dirty", "--abbrev=12")
		if err != nil {
			return fmt.Errorf("version: %v (or pass -version)", err)
		}
		version = v
	}
	mtime, err := sourceDate()
	if err != nil {
		return err
	}
	var files []entry
	for _, name := range docs {
		b, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		files = append(files, entry{name: name, data: b})
	}
	staging, err := os.MkdirTemp("", "airlock-dist")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := removeOld(out); err != nil {
		return err
	}

	var sums bytes.Buffer
	for _, t := range targets {
		goos, goarch, _ := strings.Cut(t, "/")
		bin := filepath.Join(staging, goos+"_"+goarch)
		if err := build(bin, goos, goarch); err != nil {
			return err
		}
		archive := slices.Clone(files)
		for _, tool := range tools {
			name := tool
			if goos == "windows" {
				name += ".exe"
			}
			b, err := os.ReadFile(filepath.Join(bin, name))
			if err != nil {
				return err
			}
			archive = append(archive, entry{name: name, data: b, exec: true})
		}
		top := "airlock_" + version + "_" + goos + "_" + goarch
		var buf bytes.Buffer
		name := top + ".tar.gz"
		if goos == "windows" {
			name = top + ".zip"
			err = writeZip(&buf, top, mtime, archive)
		} else {
			err = writeTarGz(&buf, top, mtime, archive)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(out, name), buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&sums, "%x  %s\n", sha256.Sum256(buf.Bytes()), name)
		fmt.Printf("%s (%d bytes)\n", filepath.Join(out, name), buf.Len())
	}
	if err := os.WriteFile(filepath.Join(out, "SHA256SUMS"), sums.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Println(filepath.Join(out, "SHA256SUMS"))
	return nil
}

// build builds both tools for one platform into dir.
func build(dir, goos, goarch string) error {
	args := []string{"build", "-trimpath", "-ldflags=-buildid=", "-o", dir + string(filepath.Separator)}
	for _, tool := range tools {
		args = append(args, "./cmd/"+tool)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=", "GOAMD64=v1", "GOARM64=v8.0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build for %s/%s: %v\n%s", goos, goarch, err, out)
	}
	return nil
}

// sourceDate is the time every archive entry carries: SOURCE_DATE_EPOCH
// (the reproducible-builds convention) or the commit's time.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		var err error
		if s, err = git("log", "-1", "--format=%ct"); err != nil {
			return time.Time{}, fmt.Errorf("commit time: %v (or set SOURCE_DATE_EPOCH)", err)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// removeOld removes what an earlier run wrote into out, so that out holds
// exactly this run's archives.
func removeOld(out string) error {
	entries, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if n == "SHA256SUMS" || strings.HasPrefix(n, "airlock_") && (strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".zip")) {
			if err := os.Remove(filepath.Join(out, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

func git(args ...string) (string, error) {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(ee.Stderr))
		}
		return "", fmt.Errorf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
