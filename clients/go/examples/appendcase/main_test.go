package main

// The example as a partner runs it: `go run .` against a real kringd with a
// partner token, exit status 0, and the output of a whole case that got
// through a refused batch and an ABORTED one.

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kring-project/kring/clients/go/internal/kringdtest"
)

func TestTheExampleAppendsAWholeCaseAndHandlesRefusedBatches(t *testing.T) {
	server, err := kringdtest.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := server.Stop(); err != nil {
			t.Error(err)
		}
	}()
	caseID := kringdtest.CaseID()
	cmd := exec.Command("go", "run", ".", "-server", server.Address, "-case", caseID)
	cmd.Env = append(os.Environ(), "KRING_TOKEN="+server.Tokens[kringdtest.PartnerA])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run . exited with %v:\n%s", err, out)
	}
	for _, want := range []string{
		"case " + caseID + ": referral and preparation stored as versions 1-6",
		"refused: FAILED_PRECONDITION: events[0].conference_held.attendee_ids[3]:",
		"  rule ATTENDEE_NOT_INVITED at events[0].conference_held.attendee_ids[3]:",
		"case " + caseID + ": conference and plan stored as versions 7-10",
		"refused: ABORTED:",
		"  expected version 10, the case is at version 11",
		"case head: version 11,",
		"case " + caseID + ": follow-ups and closure stored as versions 12-16",
		"case " + caseID + ": 16 events, closed true",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
}
