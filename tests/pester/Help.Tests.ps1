# Help for the built module: every exported cmdlet has real, complete help that Get-Help finds offline,
# and the help generator refuses broken pages. The runner sets YIELDVAULT_MODULE_PATH to the built .psd1.

BeforeDiscovery {
    if (-not $env:YIELDVAULT_MODULE_PATH) {
        throw 'YIELDVAULT_MODULE_PATH is not set: point it at the built module, out/YieldVault.Ops/<version>/YieldVault.Ops.psd1.'
    }
    # No -Force: the run's BeforeAll imports again, and a second import of the same module is then a no-op.
    Import-Module $env:YIELDVAULT_MODULE_PATH -ErrorAction Stop

    $common = [System.Management.Automation.PSCmdlet]::CommonParameters
    $cmdlets = @(
        foreach ($command in Get-Command -Module YieldVault.Ops -CommandType Cmdlet | Sort-Object Name) {
            @{
                CommandName = $command.Name
                # WhatIf and Confirm are not common parameters: PlatyPS pages describe them like the others.
                Parameters  = @($command.Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object)
            }
        }
    )
}

BeforeAll {
    Import-Module $env:YIELDVAULT_MODULE_PATH -ErrorAction Stop
    $script:DocsPath = Join-Path $PSScriptRoot '../../docs/en-US'
    $script:Generator = Join-Path $PSScriptRoot '../../build/Convert-VaultHelpMarkdown.ps1'
}

Describe 'YieldVault.Ops help' {
    It 'exports cmdlets to check' {
        @(Get-Command -Module YieldVault.Ops -CommandType Cmdlet).Count | Should-BeGreaterThan 0
    }

    It 'has the about_YieldVault.Ops topic' {
        $about = Get-Help about_YieldVault.Ops | Out-String
        $about | Should-BeLikeString '*SHORT DESCRIPTION*'
        $about | Should-BeLikeString '*New-VaultTarget*'
    }

    It 'has the about_YieldVault.Ops_Errors topic' {
        $about = Get-Help about_YieldVault.Ops_Errors | Out-String
        $about | Should-BeLikeString '*SHORT DESCRIPTION*'
        $about | Should-BeLikeString '*HostKeyMismatch (SecurityError)*'
    }
}

Describe 'Help for <CommandName>' -ForEach $cmdlets {
    BeforeAll {
        $command = Get-Command -Name $CommandName -Module YieldVault.Ops
        $help = Get-Help -Name $CommandName -Full
        $helpParameters = @($help.parameters.parameter | Where-Object { $_ })
    }

    It 'has a synopsis written by hand' {
        # Without MAML, Get-Help makes the synopsis from the syntax: "Name [-Param] <Type> ...".
        $help.Synopsis | Should-NotBeWhiteSpaceString
        $help.Synopsis.Trim() | Should-NotMatchString ('^' + [regex]::Escape($CommandName) + '\s*(\[|-|<|$)') -Because 'an auto-generated synopsis means the cmdlet has no MAML help'
    }

    It 'has a description' {
        ($help.description.Text -join "`n") | Should-NotBeWhiteSpaceString
    }

    It 'has an example that runs the cmdlet' {
        $codes = @($help.examples.example | Where-Object { $_ } | ForEach-Object code)
        $codes.Count | Should-BeGreaterThan 0 -Because 'every cmdlet needs at least one example'
        @($codes | Where-Object { $_ -match ('(?<![\w-])' + [regex]::Escape($CommandName) + '(?![\w-])') }).Count |
            Should-BeGreaterThan 0 -Because "an example should show $CommandName in use"
    }

    It 'describes -<_>' -ForEach $Parameters {
        $parameterName = $_
        $entry = $helpParameters | Where-Object { $_.name -eq $parameterName }
        $entry | Should-NotBeNull -Because "-$parameterName needs a '### -$parameterName' section in docs/en-US/$CommandName.md"
        ($entry.description.Text -join "`n") | Should-NotBeWhiteSpaceString
    }

    It 'documents no parameter the cmdlet lacks' {
        $extra = $helpParameters.name | Where-Object { -not $command.Parameters.ContainsKey($_) }
        ($extra -join ', ') | Should-BeEmptyString -Because 'help must not describe parameters that were removed or renamed'
    }

    It 'shows the first example of its page with -Examples' {
        $page = Join-Path $DocsPath "$CommandName.md"
        Test-Path -LiteralPath $page | Should-BeTrue -Because "docs/en-US/$CommandName.md is the source of this help"
        $markdown = (Get-Content -LiteralPath $page -Raw) -replace "`r`n", "`n"
        $markdown | Should-MatchString '(?ms)^### Example[^\n]*\n+```[^\n]*\n(.*?)^```'
        $null = $markdown -match '(?ms)^### Example[^\n]*\n+```[^\n]*\n(.*?)^```'
        $firstCode = $Matches[1]

        # Get-Help indents the code; compare line by line, with a width that wraps nothing.
        $shown = Get-Help -Name $CommandName -Examples | Out-String -Width 4096
        foreach ($line in $firstCode -split "`n" | Where-Object { $_.Trim() }) {
            $shown | Should-BeLikeString ('*' + [WildcardPattern]::Escape($line.Trim()) + '*')
        }
    }
}

Describe 'Convert-VaultHelpMarkdown' {
    BeforeAll {
        # A small valid page for a made-up cmdlet; -Without drops a section (or the parameter's yaml block).
        function New-HelpPage {
            param([string] $Folder, [string] $Name, [string[]] $Without = @())

            $fence = '```'
            $sections = [ordered]@{
                SYNOPSIS    = @('## SYNOPSIS', 'Checks a thing.', '')
                SYNTAX      = @('## SYNTAX', '', '### __AllParameterSets', $fence, "$Name [-Thing] <String> [<CommonParameters>]", $fence, '')
                DESCRIPTION = @('## DESCRIPTION', 'Checks a thing for the tests.', '')
                EXAMPLES    = @('## EXAMPLES', '', '### Example 1: Check', "${fence}powershell", "$Name -Thing x", $fence, '', 'Checks x.', '')
                PARAMETERS  = @('## PARAMETERS', '', '### -Thing', 'The thing.', '', "${fence}yaml", 'Type: String',
                    'Parameter Sets: (All)', 'Aliases:', '', 'Required: True', 'Position: 0', 'Default value: None',
                    'Accept pipeline input: False', 'Accept wildcard characters: False', $fence, '')
            }
            if ('yaml' -in $Without) {
                $sections.PARAMETERS = @('## PARAMETERS', '', '### -Thing', 'The thing.', '')
            }
            $lines = @('---', 'external help file: YieldVault.Ops.dll-Help.xml', 'Module Name: YieldVault.Ops',
                'online version:', 'schema: 2.0.0', '---', '', "# $Name", '')
            foreach ($key in $sections.Keys) {
                if ($key -notin $Without) { $lines += $sections[$key] }
            }
            $null = New-Item -ItemType Directory -Path $Folder -Force
            Set-Content -LiteralPath (Join-Path $Folder "$Name.md") -Value $lines
        }
    }

    It 'builds MAML with one command per page of docs/en-US' {
        $out = Join-Path $TestDrive 'repo-help'
        & $Generator -DocsPath $DocsPath -OutputPath $out | Out-Null

        [xml] $maml = Get-Content -LiteralPath (Join-Path $out 'YieldVault.Ops.dll-Help.xml') -Raw
        $ns = [System.Xml.XmlNamespaceManager]::new($maml.NameTable)
        $ns.AddNamespace('command', 'http://schemas.microsoft.com/maml/dev/command/2004/10')
        $names = @($maml.SelectNodes('/helpItems/command:command/command:details/command:name', $ns) | ForEach-Object InnerText)
        $pages = @(Get-ChildItem -LiteralPath $DocsPath -Filter '*.md' | Where-Object Name -Match '^[A-Za-z]+-[A-Za-z0-9]+\.md$' |
                ForEach-Object BaseName)
        @($names | Sort-Object) | Should-BeCollection @($pages | Sort-Object)
        Test-Path -LiteralPath (Join-Path $out 'about_YieldVault.Ops.help.txt') | Should-BeTrue
    }

    It 'refuses a page without a SYNOPSIS and names the file and line' {
        $docs = Join-Path $TestDrive 'no-synopsis'
        $out = Join-Path $TestDrive 'no-synopsis-out'
        New-HelpPage -Folder $docs -Name 'Get-VaultBroken' -Without SYNOPSIS
        # The problem is placed where the section belongs: before '## SYNTAX'.
        $line = (Select-String -LiteralPath (Join-Path $docs 'Get-VaultBroken.md') -Pattern '^## SYNTAX$').LineNumber

        { & $Generator -DocsPath $docs -OutputPath $out } |
            Should-Throw -ExceptionMessage "*Get-VaultBroken.md:${line}: missing section '## SYNOPSIS'*"
        Test-Path -LiteralPath (Join-Path $out 'YieldVault.Ops.dll-Help.xml') | Should-BeFalse -Because 'nothing is written when a page is invalid'
    }

    It 'refuses a parameter without its yaml block and names the line' {
        $docs = Join-Path $TestDrive 'no-yaml'
        New-HelpPage -Folder $docs -Name 'Get-VaultBroken' -Without yaml
        $line = (Select-String -LiteralPath (Join-Path $docs 'Get-VaultBroken.md') -Pattern '^### -Thing$').LineNumber

        { & $Generator -DocsPath $docs -OutputPath (Join-Path $TestDrive 'no-yaml-out') } |
            Should-Throw -ExceptionMessage "*Get-VaultBroken.md:${line}: parameter -Thing has no *yaml block*"
    }
}
