"""What else a command does with a trained run (above the runtime, below launch/).

    chunked         large-N sampling into a resumable samples folder
    reflow          reflow pairs of a rectified-flow run
    classifier_run  sampling a score model guided by a trained classifier run
    inpaint         inpainting pictures of any family with an 'inpaint' extra
    colorize        the same for 'colorize'
    listing         the sampler and solver names (launch.solvers)
"""
