// im2rec: packs a cxxnet image list and its image folder into a record file (record.h) for the
// `imgrec` iterator. The umbra CLI runs it as `umbra im2rec LIST ROOT OUT.rec [key=value ...]`.
#pragma once

namespace umbra::io {

/// argv[0] is the command's name (for the usage line), then LIST ROOT OUT.rec and optional keys:
///   resize=N       scale each image so its shorter side is N pixels, then re-encode it (PNG for
///                  lossless formats, PNG, BMP, TIFF, PNM, and 16-bit images; else JPEG); without
///                  it the source bytes are copied unchanged. Needs OpenCV.
///   quality=Q      JPEG quality of re-encoded images (default 95; a note where none is a JPEG).
///   label_width=K  labels per list line (default: as many as the first line has).
/// Each record carries the list's index and labels. The file is written to OUT.rec.tmp.PID and renamed
/// when complete. Prints one summary line to stdout and returns 0; every error (bad usage, missing
/// image, undecodable image when resizing) is an umbra::Error. Never calls exit().
int Im2RecMain(int argc, char** argv);

}  // namespace umbra::io
