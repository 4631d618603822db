"""The ``nerfspec`` subcommands, one module each: ``add_parser(subparsers)`` declares the
command's arguments and help, ``run(args) -> exit code`` checks them, calls the library and
prints. What a command computes lives in the library; ``nerfspec.cli`` holds only the parser
over these modules and the mapping of errors to exit codes.

Modules import the library inside ``run`` so that ``nerfspec --help`` loads no torch.
"""
