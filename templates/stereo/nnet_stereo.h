// Stereo custom layers for hls4ml (jpq2hw, templates/stereo/nnet_stereo.h; copied into projects as is).
// Bit-exact by construction: every product and sum is carried in the exact accumulator type jpq2hw
// derives (jpq2hw/extensions/stereo.py), and argmax only compares.
#ifndef NNET_STEREO_H_
#define NNET_STEREO_H_

#include "hls_stream.h"
#include "nnet_common.h"

namespace nnet {

struct stereo_cost_volume_config {
    static const unsigned height = 1;
    static const unsigned width = 1;
    static const unsigned n_feat = 1;   // features per view; the input holds [left | right] = 2 * n_feat channels
    static const unsigned max_disp = 1;
    typedef float accum_t;
};

// Correlation cost volume, channels-last:
//   res[y][x][d] = sum_f data[y][x][f] * data[y][x - d][n_feat + f]   (0 where x < d)
template <class data_T, class res_T, typename CONFIG_T>
void stereo_cost_volume(data_T data[CONFIG_T::height * CONFIG_T::width * 2 * CONFIG_T::n_feat],
                        res_T res[CONFIG_T::height * CONFIG_T::width * CONFIG_T::max_disp]) {
    const unsigned C = 2 * CONFIG_T::n_feat;
Rows:
    for (unsigned y = 0; y < CONFIG_T::height; y++) {
    Cols:
        for (unsigned x = 0; x < CONFIG_T::width; x++) {
        Disparities:
            for (unsigned d = 0; d < CONFIG_T::max_disp; d++) {
                #pragma HLS PIPELINE
                typename CONFIG_T::accum_t acc = 0;
                if (x >= d) {
                Features:
                    for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
                        acc += data[(y * CONFIG_T::width + x) * C + f] *
                               data[(y * CONFIG_T::width + x - d) * C + CONFIG_T::n_feat + f];
                    }
                }
                res[(y * CONFIG_T::width + x) * CONFIG_T::max_disp + d] = acc;
            }
        }
    }
}

// io_stream version: one nnet::array of [left | right] features per pixel, row by row. A shift register of the
// last max_disp pixels' RIGHT features (newest first) gives FR[x - d] for every d while pixel x arrives; it is
// cleared at the start of each row, so x - d < 0 reads zeros (the zero padding of the shift).
template <class data_T, class res_T, typename CONFIG_T>
void stereo_cost_volume(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    typedef typename data_T::value_type feat_t;
    feat_t right[CONFIG_T::max_disp][CONFIG_T::n_feat];
    #pragma HLS ARRAY_PARTITION variable=right complete dim=0
RowsS:
    for (unsigned y = 0; y < CONFIG_T::height; y++) {
    Clear:
        for (unsigned d = 0; d < CONFIG_T::max_disp; d++) {
            #pragma HLS UNROLL
            for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
                #pragma HLS UNROLL
                right[d][f] = 0;
            }
        }
    ColsS:
        for (unsigned x = 0; x < CONFIG_T::width; x++) {
            #pragma HLS PIPELINE II=1
            data_T in = data.read();
        Shift:
            for (unsigned d = CONFIG_T::max_disp - 1; d > 0; d--) {
                #pragma HLS UNROLL
                for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
                    #pragma HLS UNROLL
                    right[d][f] = right[d - 1][f];
                }
            }
        Load:
            for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
                #pragma HLS UNROLL
                right[0][f] = in[CONFIG_T::n_feat + f];
            }
            res_T out;
            PRAGMA_DATA_PACK(out)
        DisparitiesS:
            for (unsigned d = 0; d < CONFIG_T::max_disp; d++) {
                #pragma HLS UNROLL
                typename CONFIG_T::accum_t acc = 0;
            FeaturesS:
                for (unsigned f = 0; f < CONFIG_T::n_feat; f++) {
                    #pragma HLS UNROLL
                    acc += in[f] * right[d][f];
                }
                out[d] = acc;
            }
            res.write(out);
        }
    }
}

struct stereo_argmax_config {
    static const unsigned n_pixels = 1;
    static const unsigned max_disp = 1;
};

// Disparity regression: index of the largest score per pixel; the first maximum wins (ONNX ArgMax,
// select_last_index = 0).
template <class data_T, class res_T, typename CONFIG_T>
void stereo_argmax(data_T data[CONFIG_T::n_pixels * CONFIG_T::max_disp], res_T res[CONFIG_T::n_pixels]) {
Pixels:
    for (unsigned p = 0; p < CONFIG_T::n_pixels; p++) {
        #pragma HLS PIPELINE
        data_T best = data[p * CONFIG_T::max_disp];
        unsigned best_d = 0;
    Disparities:
        for (unsigned d = 1; d < CONFIG_T::max_disp; d++) {
            if (data[p * CONFIG_T::max_disp + d] > best) {
                best = data[p * CONFIG_T::max_disp + d];
                best_d = d;
            }
        }
        res[p] = best_d;
    }
}

// io_stream version: one nnet::array of max_disp scores per pixel in, one array holding the index out.
template <class data_T, class res_T, typename CONFIG_T>
void stereo_argmax(hls::stream<data_T> &data, hls::stream<res_T> &res) {
PixelsS:
    for (unsigned p = 0; p < CONFIG_T::n_pixels; p++) {
        #pragma HLS PIPELINE II=1
        data_T in = data.read();
        typename data_T::value_type best = in[0];
        unsigned best_d = 0;
    DisparitiesA:
        for (unsigned d = 1; d < CONFIG_T::max_disp; d++) {
            #pragma HLS UNROLL
            if (in[d] > best) {
                best = in[d];
                best_d = d;
            }
        }
        res_T out;
        out[0] = best_d;
        res.write(out);
    }
}

} // namespace nnet

#endif
