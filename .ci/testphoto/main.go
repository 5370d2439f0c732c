// Command testphoto writes a PNG gradient to stdout: the product photo the CI
// suites upload. A gradient with a bit pattern is a photo the upload checks
// accept (real pixels, not one colour) and compresses to a few hundred KiB.
//
//	go run ./.ci/testphoto -w 640 -h 480 -mix xor > photo.png
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
)

func main() {
	w := flag.Int("w", 640, "width in pixels")
	h := flag.Int("h", 480, "height in pixels")
	mix := flag.String("mix", "xor", "blue channel: xor or mul of x and y (suites that need two different photos use both)")
	flag.Parse()
	if *w < 1 || *h < 1 || (*mix != "xor" && *mix != "mul") {
		fmt.Fprintln(os.Stderr, "testphoto: -w and -h must be positive, -mix xor or mul")
		os.Exit(2)
	}
	img := image.NewRGBA(image.Rect(0, 0, *w, *h))
	for y := 0; y < *h; y++ {
		for x := 0; x < *w; x++ {
			b := x ^ y
			if *mix == "mul" {
				b = x * y
			}
			img.Set(x, y, color.RGBA{uint8(x * 255 / *w), uint8(y * 255 / *h), uint8(b & 0xff), 255})
		}
	}
	if err := png.Encode(os.Stdout, img); err != nil {
		fmt.Fprintln(os.Stderr, "testphoto:", err)
		os.Exit(1)
	}
}
