#ifndef NNET_JPQ2HW_THRESHOLD_H_
#define NNET_JPQ2HW_THRESHOLD_H_

// Multi-threshold requantization (jpq2hw): code = out_lo + out_step * #{k : sign[c] * x >= thresholds[c][k]}
// (out_step 2 with one threshold gives the -1/+1 codes of a bipolar quantizer).
// The thresholds are exact integers computed by jpq2hw from the model's float scales, so this equals
// round-half-even(affine(x) / scale) clipped to the quantizer's range, with no arithmetic at all.

#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_types.h"

namespace nnet {

struct jpq2hw_threshold_config {
    static const unsigned n_in = 1;
    static const unsigned n_chan = 1;
    static const unsigned n_levels = 1;
    static const int out_lo = 0;
    static const int out_step = 1;
    typedef int count_t;
};

template <class data_T, typename CONFIG_T>
typename CONFIG_T::count_t jpq2hw_count(data_T x, unsigned c, typename CONFIG_T::thresholds_t thresholds[],
                                        typename CONFIG_T::signs_t signs[]) {
    #pragma HLS INLINE
    typename CONFIG_T::count_t n = 0;
    typename CONFIG_T::signed_t v = (signs[c] < 0) ? (typename CONFIG_T::signed_t)(-x) : (typename CONFIG_T::signed_t)x;
ThresholdLoop:
    for (unsigned k = 0; k < CONFIG_T::n_levels; k++) {
        #pragma HLS UNROLL
        n += (v >= thresholds[c * CONFIG_T::n_levels + k]) ? 1 : 0;
    }
    return n;
}

template <class data_T, class res_T, typename CONFIG_T>
void jpq2hw_threshold(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                      typename CONFIG_T::thresholds_t thresholds[CONFIG_T::n_chan * CONFIG_T::n_levels],
                      typename CONFIG_T::signs_t signs[CONFIG_T::n_chan]) {
    #pragma HLS PIPELINE
ElementLoop:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        res[i] = (res_T)(CONFIG_T::out_lo + CONFIG_T::out_step * jpq2hw_count<data_T, CONFIG_T>(data[i], i % CONFIG_T::n_chan, thresholds, signs));
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void jpq2hw_threshold(hls::stream<data_T> &data, hls::stream<res_T> &res,
                      typename CONFIG_T::thresholds_t thresholds[CONFIG_T::n_chan * CONFIG_T::n_levels],
                      typename CONFIG_T::signs_t signs[CONFIG_T::n_chan]) {
PixelLoop:
    for (unsigned p = 0; p < CONFIG_T::n_in / data_T::size; p++) {
        #pragma HLS PIPELINE
        data_T in = data.read();
        res_T out;
        PRAGMA_DATA_PACK(out)
    ChannelLoop:
        for (unsigned j = 0; j < data_T::size; j++) {
            #pragma HLS UNROLL
            unsigned c = (p * data_T::size + j) % CONFIG_T::n_chan;
            out[j] = (typename res_T::value_type)(CONFIG_T::out_lo + CONFIG_T::out_step *
                                                  jpq2hw_count<typename data_T::value_type, CONFIG_T>(in[j], c, thresholds, signs));
        }
        res.write(out);
    }
}

} // namespace nnet

#endif
