package format_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/testutil"
	qrcode "github.com/skip2/go-qrcode"
)

// TestInteropQRCode puts a realistic request's QR text into a real QR code
// (go-qrcode, error correction M), scans the PNG with zbarimg, and checks
// that the scanned text is the same, decodes, and verifies: the promise
// that a request fits one code and that any scanner yields usable text.
// (Package format itself does not import go-qrcode; the host tool does.)
func TestInteropQRCode(t *testing.T) {
	zbar := testutil.RequireTool(t, "zbarimg")
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	host, err := format.GenerateKey(format.KeyOptions{Name: "airlock host", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := format.NewID(strings.NewReader("0123456789abcdef"))
	pk, _ := format.ParseProductKey("C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH")
	comps := map[string]string{}
	// A generous host: every well-known component and several NICs.
	for _, n := range []string{"machine-id", "dmi-product-uuid", "root-disk", "mac", "mac-2", "mac-3", "mac-4"} {
		comps[n] = format.HashComponent("astera", n+"-raw-value")
	}
	req := &format.Request{
		RequestID: id, Created: format.NewTime(now), Product: "astera", ProductVersion: "9.1.0",
		ProductKey:  pk.String(),
		Licensee:    format.Licensee{Name: "Bartholomew Longname-Administrator", Organization: "The Very Large Example Banking Corporation of the North (Operations)"},
		Fingerprint: format.Fingerprint{Components: comps},
		HostKey:     format.HostKeyField(host.Public()),
	}
	msg, err := format.Sign(host, req, now)
	if err != nil {
		t.Fatal(err)
	}
	text := format.EncodeQRText(msg)
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		t.Fatalf("QR encode (%d characters): %v", len(text), err)
	}
	if q.VersionNumber > 25 {
		t.Errorf("request needs QR version %d at level M, want 25 or lower (%d characters)", q.VersionNumber, len(text))
	}
	t.Logf("request: %d bytes binary, %d characters of QR text, QR version %d at level M", len(msg), len(text), q.VersionNumber)
	png := filepath.Join(t.TempDir(), "request.png")
	if err := q.WriteFile(768, png); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--raw", "-q", "--oneshot", png).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	scanned := strings.TrimSpace(string(out))
	if scanned != text {
		t.Fatalf("zbarimg read %d characters that differ from the %d encoded", len(scanned), len(text))
	}
	// Scanners append a newline; people paste with spaces around.
	if _, _, err := format.VerifyRequest([]byte(string(out)+"  \n"), now); err != nil {
		t.Fatalf("scanned request: %v", err)
	}
	_ = os.Remove(png)
}
