package pve

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Image is one file of the lab's image mirror: the release assets the
// bootstrap downloads (docs/upstream.md#images), served as
// deterministic bytes.
type Image struct {
	URL         string `json:"url"`
	Guest       string `json:"guest"`   // opnsense, nixos
	Version     string `json:"version"` // OS version inside
	VirtualSize int64  `json:"virtual_size"`
	Nominal     int64  `json:"nominal_size"` // size of the real asset (drives the download latency)
	SHA256      string `json:"sha256"`       // of the compressed bytes served
}

// Images is the mirror catalogue: the release assets upstream publishes.
// The firewall image is built from OPNsense 26.1.2
// (TAPPaaS@f54e4fc:.github/workflows/build-opnsense-image.yml:38) and
// opnsense-firewall-v1.1 is the newest release, the one firewall.json
// installs (TAPPaaS@f54e4fc:src/foundation/firewall/firewall.json:54); a
// firewall reaches 26.7 only by being updated after the install.
var Images = []*Image{
	{URL: "https://github.com/TAPPaaS/TAPPaaS/releases/download/opnsense-firewall-v1.1/tappaas-firewall.qcow2.zst", Guest: "opnsense", Version: "26.1.2", VirtualSize: 16 << 30, Nominal: 690 << 20},
	{URL: "https://github.com/TAPPaaS/TAPPaaS/releases/download/nixos-template-v1.2/tappaas-nixos.qcow2.zst", Guest: "nixos", Version: "25.05", VirtualSize: 8 << 30, Nominal: 720 << 20},
	{URL: "https://github.com/TAPPaaS/TAPPaaS/releases/download/nixos-template-v1.3/tappaas-nixos.qcow2.zst", Guest: "nixos", Version: "25.11", VirtualSize: 8 << 30, Nominal: 730 << 20},
}

var imgOnce sync.Once
var imgBytes = map[string][]byte{}

const zstdMagic = "\x28\xb5\x2f\xfd"

// rawImage is the "qcow2" inside: a marker line plus deterministic filler.
func rawImage(img *Image) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "QFI\xfb LAB-IMAGE guest=%s version=%s vsize=%d\n", img.Guest, img.Version, img.VirtualSize)
	seed := sha256.Sum256([]byte(img.URL))
	for b.Len() < 128<<10 {
		b.Write(seed[:])
		seed = sha256.Sum256(seed[:])
	}
	return b.Bytes()
}

// compress wraps data in the lab's zstd framing (the lab's zstd understands it).
func compress(data []byte) []byte {
	return append([]byte(fmt.Sprintf("%sLABZSTD %d\n", zstdMagic, len(data))), data...)
}

// decompress undoes compress; a truncated or foreign file is an error.
func decompress(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, []byte(zstdMagic)) {
		return nil, fmt.Errorf("unknown header")
	}
	rest := b[len(zstdMagic):]
	line, body, ok := bytes.Cut(rest, []byte("\n"))
	if !ok || !bytes.HasPrefix(line, []byte("LABZSTD ")) {
		return nil, fmt.Errorf("unsupported frame parameter")
	}
	n, err := strconv.Atoi(string(line[8:]))
	if err != nil || n != len(body) {
		return nil, fmt.Errorf("Read error (39) : premature end")
	}
	return body, nil
}

func initImages() {
	imgOnce.Do(func() {
		for _, img := range Images {
			b := compress(rawImage(img))
			sum := sha256.Sum256(b)
			img.SHA256 = hex.EncodeToString(sum[:])
			imgBytes[img.URL] = b
		}
	})
}

// MirrorFetch returns the bytes at a mirror URL (also "<url>.sha256").
func MirrorFetch(url string) ([]byte, *Image, bool) {
	initImages()
	for _, img := range Images {
		if url == img.URL {
			return imgBytes[url], img, true
		}
		if url == img.URL+".sha256" {
			name := img.URL[strings.LastIndex(img.URL, "/")+1:]
			return []byte(img.SHA256 + "  " + name + "\n"), nil, true
		}
	}
	return nil, nil, false
}

// MirrorImages returns the catalogue with checksums filled.
func MirrorImages() []*Image {
	initImages()
	return Images
}

type imageInfo struct {
	Guest, Version string
	VirtualSize    int64
}

// parseImage recognises a decompressed lab image.
func parseImage(b []byte) (imageInfo, bool) {
	if !bytes.HasPrefix(b, []byte("QFI\xfb LAB-IMAGE ")) {
		return imageInfo{}, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	var info imageInfo
	for _, f := range strings.Fields(string(line))[2:] {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "guest":
			info.Guest = v
		case "version":
			info.Version = v
		case "vsize":
			info.VirtualSize, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return info, info.VirtualSize > 0
}

// downloadTime is the simulated transfer time of an asset at ~60 MB/s.
func downloadTime(nominal int64) time.Duration {
	return time.Duration(float64(nominal) / (60 << 20) * float64(time.Second))
}
