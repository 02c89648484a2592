# SPDX-License-Identifier: Apache-2.0
# bash completion for interceptd, interceptctl, intercept-run and intercept-bench: installed once
# under each program's name, so bash-completion finds it whichever is typed first.

_interceptd()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}

	case $prev in
	-c | --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	COMPREPLY=($(compgen -W '--config --check-config --print-keys --version --help' -- "$cur"))
}

_interceptctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} w cmd=

	case $prev in
	-s | --socket | -c | --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-p | --policy) return ;;
	esac
	for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
		case $w in status | stats | containers | reload | metrics | lxd-policy) cmd=$w ;; esac
	done
	if [[ $cur == -* ]]; then
		case $cmd in
		metrics) COMPREPLY=($(compgen -W '--openmetrics --json' -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W '--socket --config --policy --json --version --help' -- "$cur")) ;;
		esac
	elif [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W 'status stats containers reload metrics lxd-policy' -- "$cur"))
	elif [ "$cmd" = lxd-policy ]; then
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

_intercept_run()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i

	for ((i = 1; i < COMP_CWORD; i++)); do
		if [ "${COMP_WORDS[i]}" = -- ]; then
			_command_offset $((i + 1)) 2>/dev/null
			return
		fi
	done
	case $prev in
	-c | --config | -s | --socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--rootfs) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--print) COMPREPLY=($(compgen -W 'oci lxc' -- "$cur")); return ;;
	-p | --policy | --id | --memory | --pids) return ;;
	esac
	COMPREPLY=($(compgen -W '--config --socket --policy --id --userns --memory --pids --rootfs
		--print --version --help' -- "$cur"))
}

_intercept_bench()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}

	case $prev in
	-p | --preset) COMPREPLY=($(compgen -W 'selftest short full' -- "$cur")); return ;;
	-o | --out | -t | --tmp) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	-s | --socket | -c | --control | -d | --daemon) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-O | --only)
		COMPREPLY=($(compgen -W 'single scaling density threads fairness' -- "${cur##*,}"))
		return ;;
	esac
	COMPREPLY=($(compgen -W '--preset --out --tmp --daemon --socket --control --only --version
		--help' -- "$cur"))
}

complete -F _interceptd interceptd
complete -F _interceptctl interceptctl
complete -F _intercept_run intercept-run
complete -F _intercept_bench intercept-bench
