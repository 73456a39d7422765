// Package kringdtest starts a real kringd for the tests of this module: the
// binary named by $KRINGD (ctest sets it), a temporary data folder, the
// embedded Kafka cluster, a free loopback port, and an identities file with
// two partners whose bearer tokens the tests use. Without $KRINGD the tests
// fail rather than skip: ctest would count a skip as a pass.
package kringdtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// The partner identities of every Server: PartnerA refers the tests' cases,
// PartnerB is another partner (no access to them unless granted).
const (
	PartnerA = "go-partner-a"
	PartnerB = "go-partner-b"
)

// Server is one running kringd.
type Server struct {
	Address string            // gRPC "127.0.0.1:port"
	Tokens  map[string]string // identity name -> bearer token
	Dir     string            // its folder: data/, identities, kringd.log
	cmd     *exec.Cmd
	exited  chan error
}

// Binary is the kringd executable from $KRINGD.
func Binary() (string, error) {
	path := os.Getenv("KRINGD")
	if path == "" {
		return "", errors.New("$KRINGD is not set: these tests need a kringd binary " +
			"(ctest sets it; by hand: KRINGD=/path/to/kring/build/services/kringd go test ./...)")
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("$KRINGD=%s is not an executable file (build it: scripts/build.sh kringd)", path)
	}
	return path, nil
}

// Start runs kringd in a new folder under dir with the partner identities
// and extra flags, and waits (at most 60 s) until its ready file is written.
func Start(dir string, extraArgs ...string) (*Server, error) {
	return StartWith(dir, nil, extraArgs...)
}

// StartWith is Start with more lines for the identities file, e.g.
// "partner NAME cert" for a client certificate with CN=NAME.
func StartWith(dir string, extraIdentities []string, extraArgs ...string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp(dir, "kringd-")
	if err != nil {
		return nil, err
	}
	s := &Server{Tokens: map[string]string{}, Dir: base, exited: make(chan error, 1)}
	var identities strings.Builder
	for _, name := range []string{PartnerA, PartnerB} {
		token, err := newToken()
		if err != nil {
			return nil, err
		}
		s.Tokens[name] = token
		sum := sha256.Sum256([]byte(token))
		fmt.Fprintf(&identities, "partner %s sha256:%s\n", name, hex.EncodeToString(sum[:]))
	}
	for _, line := range extraIdentities {
		identities.WriteString(line + "\n")
	}
	if err := os.WriteFile(filepath.Join(base, "identities"), []byte(identities.String()), 0o600); err != nil {
		return nil, err
	}
	ready := filepath.Join(base, "ready.json")
	log, err := os.Create(s.LogPath())
	if err != nil {
		return nil, err
	}
	defer log.Close()
	args := append([]string{"--data-dir", filepath.Join(base, "data"), "--listen", "127.0.0.1:0",
		"--ready-file", ready, "--identities", filepath.Join(base, "identities"),
		"--embedded-kafka-in-production", "--log-level", "info"}, extraArgs...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting kringd: %w", err)
	}
	go func() { s.exited <- s.cmd.Wait() }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		if data, err := os.ReadFile(ready); err == nil {
			var r struct {
				GRPC string `json:"grpc"`
			}
			if json.Unmarshal(data, &r) == nil && r.GRPC != "" {
				s.Address = r.GRPC
				return s, nil
			}
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			return nil, fmt.Errorf("kringd exited before it was ready (%v):\n%s", err, s.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("kringd wrote no ready file within 60 s:\n%s", s.LogTail())
		}
	}
}

// LogPath is kringd's log file.
func (s *Server) LogPath() string { return filepath.Join(s.Dir, "kringd.log") }

// LogTail is the end of kringd's log, for failure messages.
func (s *Server) LogTail() string {
	data, err := os.ReadFile(s.LogPath())
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// Stop ends kringd with SIGTERM (SIGKILL after 30 s) and returns an error
// unless it exited with status 0.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.exited <- err
		if err != nil {
			return fmt.Errorf("kringd exited with %v on SIGTERM:\n%s", err, s.LogTail())
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		err := <-s.exited
		s.exited <- err
		return fmt.Errorf("kringd did not stop within 30 s of SIGTERM:\n%s", s.LogTail())
	}
}

// MakeCerts writes test certificates into dir with tests/testing/make_certs.sh
// of this repository: ca.pem, server.pem/.key (localhost, 127.0.0.1) and
// NAME.pem/.key, a client certificate with CN=NAME, for each client name.
func MakeCerts(dir string, clients ...string) error {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return errors.New("kringdtest: cannot locate the repository")
	}
	script := filepath.Join(filepath.Dir(self), "..", "..", "..", "..", "tests", "testing", "make_certs.sh")
	out, err := exec.Command("bash", append([]string{script, dir}, clients...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("make_certs.sh: %v\n%s", err, out)
	}
	return nil
}

func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "krt_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
