# SPDX-License-Identifier: GPL-3.0-or-later
# Shell completion files and the Debian package.
#
#   cpack --config build/CPackConfig.cmake -B OUTDIR     -> OUTDIR/fleetpower_<version>_<arch>.deb
#
# CPack packs the tree as it is built (it does not rebuild): the binary (stripped), man pages,
# built-in plugin data under /usr/lib/fleetpower/plugins, example inventories under
# /usr/share/doc/fleetpower/examples, the bash and zsh completions, and /etc/fleetpower/ with
# one conffile, fleetpower.conf, whose settings are all commented out.  Depends come from
# dpkg-shlibdeps (package dpkg-dev).  cmake/DebStage.cmake finishes the staged tree the way
# Debian policy wants it (compressed man pages, copyright, changelog, the conffile).
install(FILES ${PROJECT_SOURCE_DIR}/contrib/completion/fleetpower.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME fleetpower)
install(FILES ${PROJECT_SOURCE_DIR}/contrib/completion/_fleetpower
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fleetpower)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "The fleetpower authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "out-of-band power control for server fleets (IPMI, Redfish)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "The fleetpower authors <fleetpower@example.org>")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libssh is opened with dlopen (src/transport/ssh/libssh_api.hpp), which dpkg-shlibdeps cannot
# see; its findings are appended to this.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libssh-4 (>= 0.9)")
# The synopsis line is CPACK_PACKAGE_DESCRIPTION_SUMMARY; this is the extended description.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "fleetpower powers whole fleets of servers on, off, through a cycle, a reset
or a boot to PXE, through their BMCs (IPMI 2.0 / RMCP+ and Redfish), from one
process and one event loop: thousands of BMCs at once. Targets come from a
YAML inventory with groups and power circuits; results are verified by
reading the power state back and folded per hostlist, or printed as JSON.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/contrib/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/DebStage.cmake)
set(CPACK_FP_SOURCE_DIR ${PROJECT_SOURCE_DIR})  # for DebStage.cmake
set(CPACK_SOURCE_GENERATOR TXZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build.*/" "/\\\\.cache/")
include(CPack)
