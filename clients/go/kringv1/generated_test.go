package kringv1_test

// The checked-in generated code matches proto/kring/v1: generate.sh writes
// it again into a temporary folder (protoc from the system, the plugins at
// their pinned versions) and every file must be the same, byte for byte.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func pbFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.pb.go"))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	slices.Sort(files)
	return files
}

func TestGeneratedCodeMatchesTheProtos(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("bash", "../generate.sh", out)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate.sh failed (it needs protoc: scripts/setup.sh installs protobuf-compiler): %v\n%s", err, output)
	}
	want, got := pbFiles(t, out), pbFiles(t, ".")
	if len(want) == 0 || !slices.Equal(want, got) {
		t.Fatalf("generate.sh writes %v, kringv1/ holds %v: run clients/go/generate.sh", want, got)
	}
	for _, f := range want {
		fresh, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		checkedIn, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, checkedIn) {
			t.Errorf("kringv1/%s is not what proto/ generates: run clients/go/generate.sh and commit the result", f)
		}
	}
}
