package main

import (
	_ "github.com/coder/websocket"
	_ "github.com/disintegration/imaging"
	_ "github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/riverqueue/river"
	_ "github.com/riverqueue/river/riverdriver/riverpgxv5"
	_ "github.com/riverqueue/river/riverdriver/riversqlite"
	_ "github.com/riverqueue/river/rivermigrate"
	_ "github.com/rwcarlsen/goexif/exif"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/image/webp"
	_ "golang.org/x/time/rate"
	_ "modernc.org/sqlite"
)

func main() {}
