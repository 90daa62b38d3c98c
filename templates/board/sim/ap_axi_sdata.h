// Minimal stand-in for Xilinx's ap_axi_sdata.h, for C-simulation with plain g++ only (shipped by jpq2hw from
// templates/board/sim/). Vitis/Vivado HLS use their own header: build_ip.tcl never adds this folder.
// It keeps the layout that matters to the wrapper: ap_axiu<D, U, TI, TD> with data, keep, strb, user, last,
// id and dest members, where zero-width side channels are allowed (as in Vitis HLS).
#ifndef JPQ2HW_SIM_AP_AXI_SDATA_H
#define JPQ2HW_SIM_AP_AXI_SDATA_H

#include "ap_int.h"

namespace jpq2hw_sim {
// ap_uint<0> does not exist; a zero-width side channel becomes one unused bit.
template <int W> struct side_channel { typedef ap_uint<W> type; };
template <> struct side_channel<0> { typedef ap_uint<1> type; };
} // namespace jpq2hw_sim

template <int D, int U, int TI, int TD> struct ap_axiu {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    typename jpq2hw_sim::side_channel<U>::type user;
    ap_uint<1> last;
    typename jpq2hw_sim::side_channel<TI>::type id;
    typename jpq2hw_sim::side_channel<TD>::type dest;
};

template <int D, int U, int TI, int TD> struct ap_axis {
    ap_int<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    typename jpq2hw_sim::side_channel<U>::type user;
    ap_uint<1> last;
    typename jpq2hw_sim::side_channel<TI>::type id;
    typename jpq2hw_sim::side_channel<TD>::type dest;
};

#endif
