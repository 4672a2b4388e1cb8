package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/testutil"
)

// The product's own activator trusts its compiled-in key and nothing else:
// no flag, variable or file makes it see a licence the product would not.

func runTool(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"astera-activator"}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func sampleKey(t *testing.T) *format.PrivateKey {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "samples", "data", "sample-vendor.sec.asc"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := format.ParsePrivateKey(b, []byte("sample key - not for production"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestProductBuildTrustsOnlyItsKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	t.Setenv("ACTIVATOR_DIR", dir)
	evil := testutil.FixtureKey(t, "other")
	evilFile := filepath.Join(t.TempDir(), "evil.asc")
	os.WriteFile(evilFile, evil.Public().Armor(), 0o644)
	// What a development build would take its trust from: ignored here.
	t.Setenv("ACTIVATOR_VENDOR_KEY", evilFile)
	t.Setenv("ACTIVATOR_PRODUCT", "other")
	t.Setenv("ACTIVATOR_PRODUCT_VERSION", "1.0")

	if _, errb, code := runTool(t, "--vendor-key", evilFile, "status"); code != 2 || !strings.Contains(errb, "-vendor-key") {
		t.Fatalf("--vendor-key: exit %d %s", code, errb)
	}
	help, _, _ := runTool(t, "--help")
	if strings.Contains(help, "vendor-key") || strings.Contains(help, "DEVELOPMENT") || !strings.Contains(help, "astera 9.1.0") {
		t.Fatalf("help of the product build:\n%s", help)
	}

	// A licence signed by another key, planted through the library as a
	// development build would import it: the product build does not see it.
	devCfg := activator.Config{Dir: dir, VendorKeys: format.NewKeySet(evil.Public()), Product: "astera", Version: "9.1.0"}
	s, err := activator.OpenStore(devCfg, true)
	if err != nil {
		t.Fatal(err)
	}
	req, err := s.Request(activator.RequestOptions{Name: "Ada", Organization: "Bank", ProductKey: "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH"})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := testutil.Respond(evil, req.Binary, time.Now(), func(r *format.Response) { r.Limits.Clients = 999 })
	if err != nil {
		t.Fatal(err)
	}
	if res, err := s.Import(forged, activator.ImportOptions{}); err != nil || !res.Status.Active() {
		t.Fatalf("the development build's own view: %v", err)
	}
	s.Close()
	if out, _, code := runTool(t, "check", "workflow"); code != 3 {
		t.Fatalf("check with a forged licence: exit %d %s", code, out)
	}
	forgedFile := filepath.Join(t.TempDir(), "forged.lic")
	os.WriteFile(forgedFile, format.Armor(forged, format.KindResponse), 0o644)
	if _, errb, code := runTool(t, "import", forgedFile); code != 1 || !strings.Contains(errb, "which is not a trusted key here") {
		t.Fatalf("import of the forged licence: exit %d %s", code, errb)
	}

	// The genuine answer to the same request imports, and status says what
	// this build trusts.
	genuine, err := testutil.Respond(sampleKey(t), req.Binary, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "genuine.lic")
	os.WriteFile(file, format.Armor(genuine, format.KindResponse), 0o644)
	if out, errb, code := runTool(t, "import", file); code != 0 {
		t.Fatalf("import: exit %d %s %s", code, out, errb)
	}
	out, _, code := runTool(t, "status", "--json")
	var st struct {
		State      string   `json:"state"`
		Clients    int      `json:"clients"`
		Build      string   `json:"build"`
		VendorKeys []string `json:"vendor_keys"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
		t.Fatalf("status --json: exit %d %v\n%s", code, err, out)
	}
	if st.State != "active" || st.Clients != 2 || st.Build != "product" || len(st.VendorKeys) != 1 || st.VendorKeys[0] != string(sampleKey(t).Fingerprint()) {
		t.Fatalf("status: %+v", st)
	}
}
