package testutil

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/airlock-license/airlock/format"
)

// RepoRoot returns the repository's root directory, wherever the test
// runs (testscript subprocesses run in their own work directory).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// FixtureKeyPath returns the path of one of format's fixture secret keys
// (TEST ONLY): "vendor", "host", "other", "expiring", "revoked".
func FixtureKeyPath(name string) string {
	return filepath.Join(RepoRoot(), "format", "testdata", "keys", name+".sec.asc")
}

// LoadFixtureKey loads one of format's fixture secret keys (TEST ONLY).
func LoadFixtureKey(name string) (*format.PrivateKey, error) {
	b, err := os.ReadFile(FixtureKeyPath(name))
	if err != nil {
		return nil, err
	}
	return format.ParsePrivateKey(b, nil)
}

// FixtureKey is LoadFixtureKey for a test, which fails if the key is
// missing.
func FixtureKey(t testing.TB, name string) *format.PrivateKey {
	t.Helper()
	k, err := LoadFixtureKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Respond plays the licence desk in tests of the host side: it verifies a
// request and returns the response vendor signs for it at now (binary):
// major version 9, features dataflow and workflow, 2 clients, perpetual;
// edit may change it before signing.
func Respond(vendor *format.PrivateKey, request []byte, now time.Time, edit func(*format.Response)) ([]byte, error) {
	a, r, err := format.VerifyRequest(request, now)
	if err != nil {
		return nil, err
	}
	id, err := format.NewID(rand.Reader)
	if err != nil {
		return nil, err
	}
	fp := r.Fingerprint
	fp.Threshold = format.IssueThreshold(fp)
	resp := &format.Response{
		LicenseID: id, RequestID: r.RequestID, RequestDigest: a.Digest, Issued: format.NewTime(now),
		Product: r.Product, Versions: []int{9}, Licensee: r.Licensee, HostKeyFingerprint: a.Signer.Fingerprint(),
		Fingerprint: fp, Features: []string{"dataflow", "workflow"}, Limits: format.Limits{Clients: 2},
	}
	if edit != nil {
		edit(resp)
	}
	return format.Sign(vendor, resp, now)
}
