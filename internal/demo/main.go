// Command demo plays, in a temporary directory, what airlock can do so far:
// the wire format of the activation exchange. Every line it prints is the
// result of something it just did; it exits non-zero as soon as anything
// does not behave as narrated, so `make demo` is also a test.
//
// It grows with the project: when the activator and issuer tools land, it
// drives them instead of calling package format directly.
package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/airlock-license/airlock/format"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }
func say(format string, args ...any)  { fmt.Printf("   "+format+"\n", args...) }

func run() error {
	dir, err := os.MkdirTemp("", "airlock-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	now := time.Now().UTC()
	fmt.Printf("airlock demo in %s (removed at the end)\n", dir)

	step("vendor: create the licence desk's signing key")
	vendor, err := format.GenerateKey(format.KeyOptions{Name: "Demo Vendor Licensing", Email: "licensing@demo.invalid", Now: now})
	if err != nil {
		return err
	}
	vendorPub := filepath.Join(dir, "vendor.pub.asc")
	if err := os.WriteFile(vendorPub, vendor.Public().Armor(), 0o644); err != nil {
		return err
	}
	say("key %s", vendor.Public())
	say("public key written to %s (%d bytes): this is what the product embeds", filepath.Base(vendorPub), len(vendor.Public().Armor()))
	pk, err := format.NewProductKey(rand.Reader)
	if err != nil {
		return err
	}
	say("product key sold to the customer: %s", pk)

	step("host admin: type the product key (with a typo first)")
	typo := []byte(pk.String())
	typo[7], typo[8] = typo[8], typo[7]
	if typo[7] == typo[8] {
		typo[7] = '7' + (typo[7]-'0'+1)%3
	}
	if _, err := format.ParseProductKey(string(typo)); err == nil {
		return errors.New("a transposed product key was accepted")
	} else {
		say("%s -> refused: %v", typo, err)
	}
	typed := strings.ToLower(strings.ReplaceAll(pk.String(), "-", " "))
	key, err := format.ParseProductKey(typed)
	if err != nil {
		return fmt.Errorf("the correct key was refused: %w", err)
	}
	say("%q -> accepted as %s", typed, key)

	step("host: sign a request with a new host key, bound to this machine")
	host, err := format.GenerateKey(format.KeyOptions{Name: "airlock host", Now: now})
	if err != nil {
		return err
	}
	comps := map[string]string{}
	if id, err := os.ReadFile("/etc/machine-id"); err == nil && len(bytes.TrimSpace(id)) > 0 {
		comps[format.ComponentMachineID] = format.HashComponent("astera", string(bytes.TrimSpace(id)))
	} else {
		comps["demo-host"] = format.HashComponent("astera", "no machine-id on this system")
	}
	reqID, _ := format.NewID(rand.Reader)
	req := &format.Request{
		RequestID: reqID, Created: format.NewTime(now), Product: "astera", ProductVersion: "9.1.0",
		ProductKey: key.String(), Licensee: format.Licensee{Name: "Ada Admin", Organization: "Example Bank"},
		Fingerprint: format.Fingerprint{Components: comps}, HostKey: format.HostKeyField(host.Public()),
	}
	reqMsg, err := format.Sign(host, req, now)
	if err != nil {
		return err
	}
	reqFile := filepath.Join(dir, "request.req")
	if err := os.WriteFile(reqFile, format.Armor(reqMsg, format.KindRequest), 0o644); err != nil {
		return err
	}
	qr := format.EncodeQRText(reqMsg)
	say("request %s written: %d bytes binary, %d armored", reqID, len(reqMsg), len(format.Armor(reqMsg, format.KindRequest)))
	say("machine identifiers sent (hashed per product): %s", strings.Join(sortedKeys(comps), ", "))
	say("as QR text (%d characters, alphanumeric QR mode): %s...", len(qr), qr[:48])

	step("vendor: read the request from its QR text and check the host's signature")
	a, got, err := format.VerifyRequest([]byte(qr), now)
	if err != nil {
		return err
	}
	say("signed by host key %s; licensee %s, %s; product %s %s", a.Signer.Fingerprint(), got.Licensee.Name, got.Licensee.Organization, got.Product, got.ProductVersion)

	step("vendor: answer with a licence bound to that request, host key and fingerprint")
	licID, _ := format.NewID(rand.Reader)
	fp := got.Fingerprint
	fp.Threshold = format.DefaultThreshold(len(fp.Components))
	resp := &format.Response{
		LicenseID: licID, RequestID: got.RequestID, RequestDigest: a.Digest, Issued: format.NewTime(now),
		Product: got.Product, Versions: []int{9}, Licensee: got.Licensee, HostKeyFingerprint: a.Signer.Fingerprint(),
		Fingerprint: fp, Features: []string{"dataflow", "workflow"}, Limits: format.Limits{Clients: 2},
	}
	respMsg, err := format.Sign(vendor, resp, now)
	if err != nil {
		return err
	}
	respFile := filepath.Join(dir, "response.lic")
	if err := os.WriteFile(respFile, format.Armor(respMsg, format.KindResponse), 0o644); err != nil {
		return err
	}
	say("licence %s written to %s", licID, filepath.Base(respFile))

	step("host: verify the response against the pinned vendor key")
	pinnedData, err := os.ReadFile(vendorPub)
	if err != nil {
		return err
	}
	pinned, err := format.ParseKeySet(pinnedData)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(respFile)
	if err != nil {
		return err
	}
	v, err := format.Verify(data, format.VerifyOptions{Keys: pinned, Kinds: []format.Kind{format.KindResponse}, Now: time.Now()})
	if err != nil {
		return err
	}
	lic := v.Payload.(*format.Response)
	if lic.RequestDigest != a.Digest {
		return errors.New("the response does not answer the request")
	}
	say("valid, by %s: features %v, %d clients, versions %v", v.Signer.Fingerprint(), lic.Features, lic.Limits.Clients, lic.Versions)

	if gpg, err := exec.LookPath("gpg"); err == nil {
		step("outside check: GnuPG verifies the same file with the exported key")
		if err := gpgVerify(gpg, dir, vendorPub, respFile); err != nil {
			return err
		}
	} else {
		step("outside check skipped: gpg is not installed (apt-get install gnupg)")
	}

	step("attacker: raise the client limit in the response")
	tampered := bytes.Replace(respMsg, []byte(`"clients":2`), []byte(`"clients":9`), 1)
	_, err = format.Verify(tampered, format.VerifyOptions{Keys: pinned, Kinds: []format.Kind{format.KindResponse}, Now: time.Now()})
	if !errors.Is(err, format.ErrBadSignature) {
		return fmt.Errorf("a tampered response was not refused as a bad signature: %v", err)
	}
	say("refused: %v", err)

	step("attacker: present the request as if it were a licence")
	_, err = format.Verify(reqMsg, format.VerifyOptions{Keys: format.NewKeySet(host.Public()), Kinds: []format.Kind{format.KindResponse}, Now: time.Now()})
	if !errors.Is(err, format.ErrWrongKind) {
		return fmt.Errorf("a request was not refused as a response: %v", err)
	}
	say("refused: %v", err)

	fmt.Println("\ndemo complete: every step above ran and behaved as described.")
	return nil
}

func gpgVerify(gpg, dir, key, file string) error {
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		return err
	}
	defer func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	}()
	os.Chmod(home, 0o700)
	env := append(os.Environ(), "GNUPGHOME="+home)
	imp := exec.Command(gpg, "--batch", "--quiet", "--import", key)
	imp.Env = env
	if out, err := imp.CombinedOutput(); err != nil {
		return fmt.Errorf("gpg --import: %v: %s", err, out)
	}
	cmd := exec.Command(gpg, "--batch", "--status-fd", "1", "--verify", file)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("gpg --verify refused the response: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "[GNUPG:] GOODSIG ") || strings.HasPrefix(line, "[GNUPG:] VALIDSIG ") {
			say("gpg: %s", strings.TrimPrefix(line, "[GNUPG:] "))
		}
	}
	if !strings.Contains(string(out), "[GNUPG:] VALIDSIG ") {
		return errors.New("gpg printed no VALIDSIG")
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	for i := range k {
		for j := i + 1; j < len(k); j++ {
			if k[j] < k[i] {
				k[i], k[j] = k[j], k[i]
			}
		}
	}
	return k
}
