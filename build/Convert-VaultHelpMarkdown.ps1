#Requires -Version 7.2
<#
.SYNOPSIS
Builds MAML and about help from PlatyPS-style markdown, without PlatyPS.

.DESCRIPTION
Reads every <Verb-Noun>.md in -DocsPath (PlatyPS markdown, schema 2.0.0) and writes one
<ModuleName>.dll-Help.xml to -OutputPath, the file Get-Help loads for the cmdlets of a binary module
when it sits in the module's en-US folder. Every about_*.md becomes about_*.help.txt beside it.

Nothing is written when any document is invalid: the script stops with one error that lists every
problem as <file>:<line>: <what is wrong>, so a broken page fails the build instead of shipping empty
help.

.PARAMETER DocsPath
The folder with the markdown help, normally docs/en-US.

.PARAMETER OutputPath
The folder to write the help files to, normally out/YieldVault.Ops/<version>/en-US. Created if missing.

.PARAMETER ModuleName
The module the help belongs to. Each page's front matter must name it, and the MAML file is named
<ModuleName>.dll-Help.xml after the module's assembly.

.EXAMPLE
./build/Convert-VaultHelpMarkdown.ps1 -DocsPath docs/en-US -OutputPath out/YieldVault.Ops/0.1.0/en-US
#>
[CmdletBinding()]
[OutputType([System.IO.FileInfo])]
param(
    [Parameter(Mandatory)]
    [string] $DocsPath,

    [Parameter(Mandatory)]
    [string] $OutputPath,

    [ValidateNotNullOrEmpty()]
    [string] $ModuleName = 'YieldVault.Ops'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$NsMaml = 'http://schemas.microsoft.com/maml/2004/10'
$NsCommand = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$NsDev = 'http://schemas.microsoft.com/maml/dev/2004/10'
$NsMSHelp = 'http://msdn.microsoft.com/mshelp'
$NsXmlns = 'http://www.w3.org/2000/xmlns/'

# Order of the sections in PlatyPS schema 2.0.0; it is also how a missing section is located.
$CommandSections = @('SYNOPSIS', 'SYNTAX', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS', 'INPUTS', 'OUTPUTS', 'NOTES', 'RELATED LINKS')
$RequiredSections = @('SYNOPSIS', 'SYNTAX', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS')
$ParameterYamlKeys = @('Type', 'Parameter Sets', 'Aliases', 'Required', 'Position', 'Default value',
    'Accept pipeline input', 'Accept wildcard characters')

# Problems found in all files; reported together at the end.
$script:Problems = [System.Collections.Generic.List[string]]::new()

function Add-Problem {
    param([string] $File, [int] $Line, [string] $Message)
    $script:Problems.Add(('{0}:{1}: {2}' -f $File, $Line, $Message))
}

#region Markdown reading

# Splits a file into front matter and a flat list of blocks: headings, fenced code and paragraphs
# (runs of non-blank lines), each with the line it starts on.
function Read-MarkdownFile {
    param([string] $Path)

    $lines = [System.IO.File]::ReadAllLines($Path, [System.Text.UTF8Encoding]::new($false))
    $result = [ordered]@{
        Path        = $Path
        LineCount   = $lines.Count
        FrontMatter = $null
        FrontLine   = 0
        Blocks      = [System.Collections.Generic.List[object]]::new()
    }

    $i = 0
    while ($i -lt $lines.Count -and $lines[$i].Trim() -eq '') { $i++ }
    if ($i -lt $lines.Count -and $lines[$i].Trim() -eq '---') {
        $result.FrontLine = $i + 1
        $front = [ordered]@{}
        $i++
        $closed = $false
        while ($i -lt $lines.Count) {
            $text = $lines[$i]
            if ($text.Trim() -eq '---') { $closed = $true; $i++; break }
            if ($text -match '^\s*([^:#][^:]*?)\s*:\s*(.*?)\s*$') {
                $front[$Matches[1]] = @{ Value = $Matches[2].Trim('''', '"'); Line = $i + 1 }
            }
            elseif ($text.Trim() -ne '') {
                Add-Problem $Path ($i + 1) "front matter line is not 'key: value': '$text'"
            }
            $i++
        }
        if (-not $closed) {
            Add-Problem $Path $result.FrontLine "front matter opened with '---' is never closed"
        }
        $result.FrontMatter = $front
    }

    $para = $null
    while ($i -lt $lines.Count) {
        $text = $lines[$i]
        $lineNo = $i + 1

        if ($text -match '^\s{0,3}(`{3,}|~{3,})\s*([^`\s]*)') {
            $para = $null
            $fence = $Matches[1]
            $info = $Matches[2]
            $body = [System.Collections.Generic.List[string]]::new()
            $i++
            $closed = $false
            while ($i -lt $lines.Count) {
                if ($lines[$i] -match ('^\s{0,3}' + [regex]::Escape($fence.Substring(0, 1)) + '{' + $fence.Length + ',}\s*$')) {
                    $closed = $true
                    break
                }
                $body.Add($lines[$i])
                $i++
            }
            if (-not $closed) {
                Add-Problem $Path $lineNo "code block opened with '$fence' is never closed"
            }
            $result.Blocks.Add([pscustomobject]@{ Kind = 'Code'; Info = $info; Text = ($body -join "`n"); Line = $lineNo })
            $i++
            continue
        }

        if ($text -match '^(#{1,6})\s+(.*?)\s*#*\s*$') {
            $para = $null
            $result.Blocks.Add([pscustomobject]@{ Kind = 'Heading'; Level = $Matches[1].Length; Text = $Matches[2]; Line = $lineNo })
        }
        elseif ($text.Trim() -eq '') {
            $para = $null
        }
        else {
            if ($null -eq $para) {
                $para = [pscustomobject]@{ Kind = 'Para'; Lines = [System.Collections.Generic.List[string]]::new(); Line = $lineNo }
                $result.Blocks.Add($para)
            }
            $para.Lines.Add($text)
        }
        $i++
    }

    [pscustomobject]$result
}

# Markdown inline syntax that means nothing in a console: links become text (with the address when it is
# absolute), escapes and bold markers go. Backticks stay; they mark code in Get-Help output as well.
function ConvertTo-PlainText {
    param([string] $Text)

    $Text = [regex]::Replace($Text, '\[([^\]]+)\]\(([^)\s]+)\)', {
            param($m)
            $label = $m.Groups[1].Value
            $target = $m.Groups[2].Value
            if ($target -match '^[a-z]+://') { "$label ($target)" } else { $label }
        })
    $Text = $Text -replace '\*\*(.+?)\*\*', '$1' -replace '(?<![\w\\])__(.+?)__(?!\w)', '$1'
    $Text -replace '\\([\\`*_{}\[\]()#+\-.!<>|])', '$1'
}

# One markdown paragraph as help text. Prose lines are joined (the console wraps them); lists and
# tables keep their lines, with a list item's continuation lines joined to the item.
function ConvertTo-ParagraphText {
    param([string[]] $Lines)

    $structured = $Lines | Where-Object { $_ -match '^\s*([-*+]|\d+[.)])\s+' -or $_ -match '^\s*\|' }
    if (-not $structured) {
        $text = ''
        foreach ($line in $Lines) {
            $hardBreak = $line -match '(  |\\)$'
            $piece = $line.Trim() -replace '\\$', ''
            $text += $piece + $(if ($hardBreak) { "`n" } else { ' ' })
        }
        return (ConvertTo-PlainText $text.TrimEnd())
    }

    $out = [System.Collections.Generic.List[string]]::new()
    foreach ($line in $Lines) {
        if ($line -match '^\s*\|') {
            if ($line -match '^\s*\|[\s:|-]+\|?\s*$') { continue }   # the header separator row
            $cells = $line.Trim().Trim('|').Split('|') | ForEach-Object { ConvertTo-PlainText $_.Trim() }
            $out.Add(($cells -join ' | '))
        }
        elseif ($line -match '^\s*([-*+]|\d+[.)])\s+' -or $out.Count -eq 0) {
            $out.Add((ConvertTo-PlainText $line.TrimEnd()))
        }
        else {
            $out[$out.Count - 1] += ' ' + (ConvertTo-PlainText $line.Trim())
        }
    }
    $out -join "`n"
}

function Test-Placeholder {
    param([string] $Text)
    $Text -match '\{\{.*\}\}'
}

#endregion

#region Cmdlet pages

# Groups the blocks after a heading until the next heading of the same or a higher level.
function Get-Section {
    param($Blocks, [int] $Start, [int] $Level)

    $end = $Start + 1
    while ($end -lt $Blocks.Count) {
        $b = $Blocks[$end]
        if ($b.Kind -eq 'Heading' -and $b.Level -le $Level) { break }
        $end++
    }
    [pscustomobject]@{
        Heading = $Blocks[$Start]
        Body    = @(if ($end -gt $Start + 1) { $Blocks[($Start + 1)..($end - 1)] })
        Next    = $end
    }
}

function Get-Subsection {
    param($Body)

    $subs = [System.Collections.Generic.List[object]]::new()
    $lead = [System.Collections.Generic.List[object]]::new()
    $current = $null
    foreach ($b in $Body) {
        if ($b.Kind -eq 'Heading' -and $b.Level -eq 3) {
            $current = [pscustomobject]@{ Heading = $b; Body = [System.Collections.Generic.List[object]]::new() }
            $subs.Add($current)
        }
        elseif ($null -eq $current) { $lead.Add($b) }
        else { $current.Body.Add($b) }
    }
    [pscustomobject]@{ Lead = $lead; Items = $subs }
}

function Get-Paragraphs {
    param($Blocks)

    # Code in running text (a config sample, some output) stays as written, line by line.
    foreach ($b in $Blocks) {
        if ($b.Kind -eq 'Para') { ConvertTo-ParagraphText $b.Lines }
        elseif ($b.Kind -eq 'Code' -and $b.Info -ne 'yaml') { $b.Text.TrimEnd() }
    }
}

function Read-ParameterYaml {
    param([string] $File, $Code, [string] $ParameterName)

    $values = @{}
    $lineNo = $Code.Line
    foreach ($line in $Code.Text -split "`n") {
        $lineNo++
        if ($line.Trim() -eq '') { continue }
        if ($line -notmatch '^([A-Za-z][A-Za-z ]*?)\s*:\s*(.*?)\s*$') {
            Add-Problem $File $lineNo "parameter -${ParameterName}: yaml line is not 'Key: value': '$line'"
            continue
        }
        $values[$Matches[1]] = @{ Value = $Matches[2]; Line = $lineNo }
    }

    $ok = $true
    foreach ($key in $ParameterYamlKeys) {
        if (-not $values.ContainsKey($key)) {
            Add-Problem $File $Code.Line "parameter -${ParameterName}: yaml block has no '${key}:' line"
            $ok = $false
        }
    }
    if (-not $ok) { return $null }

    $v = { param($k) $values[$k].Value }
    $at = { param($k) $values[$k].Line }

    if ((& $v 'Type') -eq '') {
        Add-Problem $File (& $at 'Type') "parameter -${ParameterName}: 'Type:' is empty"
        $ok = $false
    }
    foreach ($key in 'Required', 'Accept wildcard characters') {
        if ((& $v $key) -notmatch '^(True|False)$') {
            Add-Problem $File (& $at $key) "parameter -${ParameterName}: '${key}:' must be True or False, not '$(& $v $key)'"
            $ok = $false
        }
    }
    if ((& $v 'Position') -notmatch '^(Named|\d+)$') {
        Add-Problem $File (& $at 'Position') "parameter -${ParameterName}: 'Position:' must be Named or a number, not '$(& $v 'Position')'"
        $ok = $false
    }
    $pipeline = & $v 'Accept pipeline input'
    if ($pipeline -notmatch '^(False|True \((ByValue|ByPropertyName)(, (ByValue|ByPropertyName))?\))$') {
        Add-Problem $File (& $at 'Accept pipeline input') ("parameter -${ParameterName}: 'Accept pipeline input:' must be False, " +
            "True (ByValue), True (ByPropertyName) or True (ByPropertyName, ByValue), not '$pipeline'")
        $ok = $false
    }
    if ((& $v 'Parameter Sets') -eq '') {
        Add-Problem $File (& $at 'Parameter Sets') "parameter -${ParameterName}: 'Parameter Sets:' is empty; use (All) for every set"
        $ok = $false
    }
    if (-not $ok) { return $null }

    $type = & $v 'Type'
    if ($type -eq 'switch') { $type = 'SwitchParameter' }
    $aliases = @((& $v 'Aliases') -split ',' | ForEach-Object Trim | Where-Object { $_ })
    $accepted = @()
    if ($values.ContainsKey('Accepted values')) {
        $accepted = @($values['Accepted values'].Value -split ',' | ForEach-Object Trim | Where-Object { $_ })
    }
    $default = & $v 'Default value'
    [pscustomobject]@{
        Line           = $Code.Line
        Type           = $type
        Sets           = @((& $v 'Parameter Sets') -split ',' | ForEach-Object Trim | Where-Object { $_ })
        Aliases        = $aliases
        Required       = (& $v 'Required') -eq 'True'
        Position       = (& $v 'Position').ToLowerInvariant()
        Default        = $(if ($default -eq '') { 'None' } else { $default })
        PipelineInput  = $pipeline
        Globbing       = (& $v 'Accept wildcard characters') -eq 'True'
        AcceptedValues = $accepted
    }
}

function Read-CommandPage {
    param([string] $Path, [string] $ModuleName)

    $expectedName = [System.IO.Path]::GetFileNameWithoutExtension($Path)
    $doc = Read-MarkdownFile $Path
    $blocks = $doc.Blocks

    if ($null -eq $doc.FrontMatter) {
        Add-Problem $Path 1 "no front matter; a page starts with '---', 'external help file: $ModuleName.dll-Help.xml', 'Module Name: $ModuleName', 'online version:', 'schema: 2.0.0', '---'"
        $front = @{}
    }
    else {
        $front = $doc.FrontMatter
        $expectedFront = [ordered]@{
            'external help file' = "$ModuleName.dll-Help.xml"
            'Module Name'        = $ModuleName
            'online version'     = $null
            'schema'             = '2.0.0'
        }
        foreach ($key in $expectedFront.Keys) {
            if (-not $front.Contains($key)) {
                Add-Problem $Path $doc.FrontLine "front matter has no '${key}:' line"
            }
            elseif ($null -ne $expectedFront[$key] -and $front[$key].Value -ne $expectedFront[$key]) {
                Add-Problem $Path $front[$key].Line "front matter '${key}:' is '$($front[$key].Value)', expected '$($expectedFront[$key])'"
            }
        }
    }

    $titleIndex = -1
    for ($k = 0; $k -lt $blocks.Count; $k++) {
        if ($blocks[$k].Kind -eq 'Heading') { $titleIndex = $k; break }
    }
    if ($titleIndex -lt 0 -or $blocks[$titleIndex].Level -ne 1) {
        $line = if ($titleIndex -ge 0) { $blocks[$titleIndex].Line } else { [Math]::Max(1, $doc.LineCount) }
        Add-Problem $Path $line "the page must start with '# $expectedName'"
        return $null
    }
    $title = $blocks[$titleIndex]
    if ($title.Text -cne $expectedName) {
        Add-Problem $Path $title.Line "title is '# $($title.Text)' but the file is named for $expectedName"
    }

    # Level-2 sections in file order.
    $sections = [ordered]@{}
    $k = $titleIndex + 1
    while ($k -lt $blocks.Count) {
        $b = $blocks[$k]
        if ($b.Kind -ne 'Heading' -or $b.Level -ne 2) {
            if ($b.Kind -eq 'Heading' -and $b.Level -eq 1) {
                Add-Problem $Path $b.Line "a page has one '# ' title; found another: '# $($b.Text)'"
            }
            elseif ($b.Kind -ne 'Heading' -or $b.Level -gt 2) {
                Add-Problem $Path $b.Line "content before the first '## ' section"
            }
            $k++
            continue
        }
        $section = Get-Section $blocks $k 2
        $name = $b.Text.Trim().ToUpperInvariant()
        if ($name -notin $CommandSections) {
            Add-Problem $Path $b.Line "unknown section '## $($b.Text)'; expected one of: $($CommandSections -join ', ')"
        }
        elseif ($sections.Contains($name)) {
            Add-Problem $Path $b.Line "section '## $name' appears twice (first at line $($sections[$name].Heading.Line))"
        }
        else {
            $sections[$name] = $section
        }
        $k = $section.Next
    }

    foreach ($name in $RequiredSections) {
        if ($sections.Contains($name)) { continue }
        # Point at the section that should follow the missing one, so the fix is easy to place.
        $after = $CommandSections[($CommandSections.IndexOf($name) + 1)..($CommandSections.Count - 1)] |
            Where-Object { $sections.Contains($_) } | Select-Object -First 1
        if ($after) {
            Add-Problem $Path $sections[$after].Heading.Line "missing section '## $name' (expected before '## $after')"
        }
        else {
            Add-Problem $Path ([Math]::Max(1, $doc.LineCount)) "missing section '## $name'"
        }
    }

    $command = [ordered]@{
        Name          = $title.Text
        File          = $Path
        OnlineVersion = $(if ($front.Contains('online version')) { $front['online version'].Value } else { '' })
        Synopsis      = @()
        Description   = @()
        SyntaxSets    = [System.Collections.Generic.List[object]]::new()
        Parameters    = [System.Collections.Generic.List[object]]::new()
        Examples      = [System.Collections.Generic.List[object]]::new()
        Inputs        = [System.Collections.Generic.List[object]]::new()
        Outputs       = [System.Collections.Generic.List[object]]::new()
        Notes         = @()
        Links         = [System.Collections.Generic.List[object]]::new()
    }

    foreach ($name in 'SYNOPSIS', 'DESCRIPTION') {
        if (-not $sections.Contains($name)) { continue }
        $s = $sections[$name]
        $paras = @(Get-Paragraphs $s.Body)
        if ($paras.Count -eq 0) {
            Add-Problem $Path $s.Heading.Line "section '## $name' has no text"
        }
        elseif (Test-Placeholder ($paras -join ' ')) {
            Add-Problem $Path $s.Heading.Line "section '## $name' still has a {{ placeholder }}"
        }
        if ($name -eq 'SYNOPSIS') { $command.Synopsis = $paras } else { $command.Description = $paras }
    }

    if ($sections.Contains('SYNTAX')) {
        $s = Get-Subsection $sections['SYNTAX'].Body
        if ($s.Items.Count -eq 0) {
            Add-Problem $Path $sections['SYNTAX'].Heading.Line "section '## SYNTAX' has no '### ParameterSetName' with a code block"
        }
        foreach ($item in $s.Items) {
            $setName = ($item.Heading.Text -replace '\s*\(Default\)\s*$', '').Trim()
            $code = $item.Body | Where-Object Kind -EQ 'Code' | Select-Object -First 1
            if (-not $code) {
                Add-Problem $Path $item.Heading.Line "syntax '### $($item.Heading.Text)' has no code block"
                continue
            }
            $names = @([regex]::Matches($code.Text, '(?<=[\s\[])-([A-Za-z][\w]*)') | ForEach-Object { $_.Groups[1].Value } |
                    Select-Object -Unique)
            $command.SyntaxSets.Add([pscustomobject]@{ Name = $setName; ParameterNames = $names; Line = $code.Line })
        }
    }

    if ($sections.Contains('EXAMPLES')) {
        $s = Get-Subsection $sections['EXAMPLES'].Body
        if ($s.Items.Count -eq 0) {
            Add-Problem $Path $sections['EXAMPLES'].Heading.Line "section '## EXAMPLES' has no '### Example 1: ...' with a code block"
        }
        foreach ($item in $s.Items) {
            $codes = @($item.Body | Where-Object Kind -EQ 'Code')
            if ($codes.Count -eq 0 -or $codes[0].Text.Trim() -eq '') {
                Add-Problem $Path $item.Heading.Line "example '### $($item.Heading.Text)' has no code block"
                continue
            }
            if (Test-Placeholder $codes[0].Text) {
                Add-Problem $Path $codes[0].Line "example '### $($item.Heading.Text)' still has a {{ placeholder }}"
            }
            # Text and any further code (sample output) after the first code block are the remarks.
            $remarks = foreach ($b in $item.Body) {
                if ($b -eq $codes[0]) { continue }
                if ($b.Kind -eq 'Para') { ConvertTo-ParagraphText $b.Lines }
                elseif ($b.Kind -eq 'Code') { $b.Text }
            }
            $command.Examples.Add([pscustomobject]@{
                    Title   = ConvertTo-PlainText $item.Heading.Text.Trim()
                    Code    = $codes[0].Text.TrimEnd()
                    Remarks = @($remarks)
                })
        }
    }

    # Every '### -Name' heading, valid or not, so one broken parameter is reported once.
    $headedParameters = [System.Collections.Generic.List[string]]::new()
    if ($sections.Contains('PARAMETERS')) {
        $s = Get-Subsection $sections['PARAMETERS'].Body
        foreach ($item in $s.Items) {
            $heading = $item.Heading.Text.Trim()
            if ($heading -eq 'CommonParameters') { continue }
            if ($heading -notmatch '^-([A-Za-z][\w]*)$') {
                Add-Problem $Path $item.Heading.Line "'### $heading' under '## PARAMETERS' is not '### -ParameterName' or '### CommonParameters'"
                continue
            }
            $paramName = $Matches[1]
            if ($headedParameters -contains $paramName) {
                Add-Problem $Path $item.Heading.Line "parameter -$paramName is described twice"
                continue
            }
            $headedParameters.Add($paramName)
            $description = @(Get-Paragraphs $item.Body)
            if ($description.Count -eq 0) {
                Add-Problem $Path $item.Heading.Line "parameter -$paramName has no description"
            }
            elseif (Test-Placeholder ($description -join ' ')) {
                Add-Problem $Path $item.Heading.Line "parameter -$paramName still has a {{ placeholder }} description"
            }
            $yamlBlocks = @($item.Body | Where-Object { $_.Kind -eq 'Code' -and $_.Info -eq 'yaml' })
            if ($yamlBlocks.Count -eq 0) {
                Add-Problem $Path $item.Heading.Line "parameter -$paramName has no ``````yaml block (Type, Parameter Sets, Aliases, Required, Position, Default value, Accept pipeline input, Accept wildcard characters)"
                continue
            }
            $variants = @($yamlBlocks | ForEach-Object { Read-ParameterYaml $Path $_ $paramName } | Where-Object { $null -ne $_ })
            if ($variants.Count -ne $yamlBlocks.Count) { continue }
            $command.Parameters.Add([pscustomobject]@{
                    Name        = $paramName
                    Description = $description
                    Variants    = $variants
                    Line        = $item.Heading.Line
                })
        }
    }

    foreach ($pair in @(@('INPUTS', $command.Inputs), @('OUTPUTS', $command.Outputs))) {
        $name = $pair[0]
        if (-not $sections.Contains($name)) { continue }
        $s = Get-Subsection $sections[$name].Body
        foreach ($b in $s.Lead) {
            Add-Problem $Path $b.Line "text under '## $name' must follow a '### TypeName' heading"
        }
        foreach ($item in $s.Items) {
            $pair[1].Add([pscustomobject]@{
                    TypeName    = ConvertTo-PlainText $item.Heading.Text.Trim()
                    Description = @(Get-Paragraphs $item.Body)
                })
        }
    }

    if ($sections.Contains('NOTES')) {
        $command.Notes = @(Get-Paragraphs $sections['NOTES'].Body)
    }

    if ($sections.Contains('RELATED LINKS')) {
        foreach ($b in $sections['RELATED LINKS'].Body) {
            if ($b.Kind -ne 'Para') { continue }
            foreach ($line in $b.Lines) {
                $t = $line.Trim() -replace '^[-*+]\s+', ''
                if ($t -match '^\[([^\]]+)\]\(([^)]*)\)$') {
                    # A relative link (another page of these docs) has no address Get-Help -Online could open.
                    $uri = if ($Matches[2] -match '^[a-z]+://') { $Matches[2] } else { '' }
                    $command.Links.Add([pscustomobject]@{ Text = $Matches[1]; Uri = $uri })
                }
                elseif ($t -ne '') {
                    $command.Links.Add([pscustomobject]@{ Text = (ConvertTo-PlainText $t); Uri = '' })
                }
            }
        }
    }

    # Cross-checks between SYNTAX and PARAMETERS.
    $documented = @($headedParameters)
    $setNames = @($command.SyntaxSets | ForEach-Object Name)
    foreach ($set in $command.SyntaxSets) {
        foreach ($p in $set.ParameterNames) {
            if ($p -notin $documented -and $p -notin 'WhatIf', 'Confirm' -and
                $p -notin [System.Management.Automation.PSCmdlet]::CommonParameters) {
                Add-Problem $Path $set.Line "syntax of set '$($set.Name)' uses -$p, which has no '### -$p' under '## PARAMETERS'"
            }
        }
    }
    foreach ($p in $command.Parameters) {
        foreach ($variant in $p.Variants) {
            foreach ($set in $variant.Sets) {
                if ($set -eq '(All)' -or $set -in $setNames -or ($setNames -contains '__AllParameterSets')) { continue }
                Add-Problem $Path $variant.Line "parameter -$($p.Name) names parameter set '$set', which '## SYNTAX' does not have"
            }
        }
    }

    [pscustomobject]$command
}

#endregion

#region MAML

function Write-Paragraphs {
    param([System.Xml.XmlWriter] $Writer, [string[]] $Paragraphs)

    $Writer.WriteStartElement('maml', 'description', $NsMaml)
    foreach ($p in $Paragraphs) {
        $Writer.WriteElementString('maml', 'para', $NsMaml, $p)
    }
    $Writer.WriteEndElement()
}

function Write-Parameter {
    param([System.Xml.XmlWriter] $Writer, $Parameter, $Variant, [bool] $InSyntax)

    $w = $Writer
    $w.WriteStartElement('command', 'parameter', $NsCommand)
    $w.WriteAttributeString('required', $Variant.Required.ToString().ToLowerInvariant())
    $w.WriteAttributeString('variableLength', ($Variant.Type -like '*`[`]').ToString().ToLowerInvariant())
    $w.WriteAttributeString('globbing', $Variant.Globbing.ToString().ToLowerInvariant())
    $w.WriteAttributeString('pipelineInput', $Variant.PipelineInput)
    $w.WriteAttributeString('position', $Variant.Position)
    $w.WriteAttributeString('aliases', $(if ($Variant.Aliases.Count) { $Variant.Aliases -join ', ' } else { 'none' }))

    $w.WriteElementString('maml', 'name', $NsMaml, $Parameter.Name)
    Write-Paragraphs $w $Parameter.Description

    if ($InSyntax -and $Variant.AcceptedValues.Count) {
        $w.WriteStartElement('command', 'parameterValueGroup', $NsCommand)
        foreach ($value in $Variant.AcceptedValues) {
            $w.WriteStartElement('command', 'parameterValue', $NsCommand)
            $w.WriteAttributeString('required', 'false')
            $w.WriteAttributeString('variableLength', 'false')
            $w.WriteString($value)
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }

    # In a syntax line a switch is just its name; a value placeholder would print as "-Ready <SwitchParameter>".
    $isSwitch = $Variant.Type -eq 'SwitchParameter'
    if (-not ($InSyntax -and ($isSwitch -or $Variant.AcceptedValues.Count))) {
        $w.WriteStartElement('command', 'parameterValue', $NsCommand)
        $w.WriteAttributeString('required', (-not $isSwitch).ToString().ToLowerInvariant())
        $w.WriteAttributeString('variableLength', 'false')
        $w.WriteString($Variant.Type)
        $w.WriteEndElement()
    }

    $w.WriteStartElement('dev', 'type', $NsDev)
    $w.WriteElementString('maml', 'name', $NsMaml, $Variant.Type)
    $w.WriteElementString('maml', 'uri', $NsMaml, '')
    $w.WriteEndElement()
    $w.WriteElementString('dev', 'defaultValue', $NsDev, $Variant.Default)
    $w.WriteEndElement()
}

function Write-TypeList {
    param([System.Xml.XmlWriter] $Writer, [string] $ListName, [string] $ItemName, $Items)

    $Writer.WriteStartElement('command', $ListName, $NsCommand)
    foreach ($item in $Items) {
        $Writer.WriteStartElement('command', $ItemName, $NsCommand)
        $Writer.WriteStartElement('dev', 'type', $NsDev)
        $Writer.WriteElementString('maml', 'name', $NsMaml, $item.TypeName)
        $Writer.WriteEndElement()
        Write-Paragraphs $Writer $item.Description
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()
}

function Write-Command {
    param([System.Xml.XmlWriter] $Writer, $Command)

    $w = $Writer
    $w.WriteStartElement('command', 'command', $NsCommand)
    $w.WriteAttributeString('xmlns', 'maml', $NsXmlns, $NsMaml)
    $w.WriteAttributeString('xmlns', 'dev', $NsXmlns, $NsDev)
    $w.WriteAttributeString('xmlns', 'MSHelp', $NsXmlns, $NsMSHelp)

    $verb, $noun = $Command.Name -split '-', 2
    $w.WriteStartElement('command', 'details', $NsCommand)
    $w.WriteElementString('command', 'name', $NsCommand, $Command.Name)
    $w.WriteElementString('command', 'verb', $NsCommand, $verb)
    $w.WriteElementString('command', 'noun', $NsCommand, $noun)
    Write-Paragraphs $w $Command.Synopsis
    $w.WriteEndElement()

    Write-Paragraphs $w $Command.Description

    $w.WriteStartElement('command', 'syntax', $NsCommand)
    foreach ($set in $Command.SyntaxSets) {
        $w.WriteStartElement('command', 'syntaxItem', $NsCommand)
        $w.WriteElementString('maml', 'name', $NsMaml, $Command.Name)
        # The order of the syntax code block (positional first), then the set's other parameters.
        $members = foreach ($p in $Command.Parameters) {
            $variant = $p.Variants | Where-Object {
                $set.Name -eq '__AllParameterSets' -or $_.Sets -contains '(All)' -or $_.Sets -contains $set.Name
            } | Select-Object -First 1
            if ($variant) {
                $rank = [array]::IndexOf([string[]]$set.ParameterNames, $p.Name)
                [pscustomobject]@{ Parameter = $p; Variant = $variant; Rank = $(if ($rank -lt 0) { [int]::MaxValue } else { $rank }) }
            }
        }
        foreach ($m in ($members | Sort-Object Rank -Stable)) {
            Write-Parameter $w $m.Parameter $m.Variant $true
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $NsCommand)
    foreach ($p in $Command.Parameters) {
        Write-Parameter $w $p $p.Variants[0] $false
    }
    $w.WriteEndElement()

    Write-TypeList $w 'inputTypes' 'inputType' $Command.Inputs
    Write-TypeList $w 'returnValues' 'returnValue' $Command.Outputs

    $w.WriteStartElement('maml', 'alertSet', $NsMaml)
    $w.WriteStartElement('maml', 'alert', $NsMaml)
    foreach ($p in $Command.Notes) { $w.WriteElementString('maml', 'para', $NsMaml, $p) }
    $w.WriteEndElement()
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'examples', $NsCommand)
    foreach ($example in $Command.Examples) {
        $w.WriteStartElement('command', 'example', $NsCommand)
        $w.WriteElementString('maml', 'title', $NsMaml, "-------------------------- $($example.Title) --------------------------")
        $w.WriteElementString('dev', 'code', $NsDev, $example.Code)
        $w.WriteStartElement('dev', 'remarks', $NsDev)
        foreach ($r in $example.Remarks) { $w.WriteElementString('maml', 'para', $NsMaml, $r) }
        # Get-Help prints the next example's title right under the last remark line otherwise.
        $w.WriteElementString('maml', 'para', $NsMaml, '')
        $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'relatedLinks', $NsCommand)
    $links = @($Command.Links)
    if ($Command.OnlineVersion) {
        # Get-Help -Online opens the first link that has an address.
        $links = @([pscustomobject]@{ Text = 'Online Version:'; Uri = $Command.OnlineVersion }) + $links
    }
    foreach ($link in $links) {
        $w.WriteStartElement('maml', 'navigationLink', $NsMaml)
        $w.WriteElementString('maml', 'linkText', $NsMaml, $link.Text)
        $w.WriteElementString('maml', 'uri', $NsMaml, $link.Uri)
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteEndElement()
}

function Write-MamlFile {
    param([string] $Path, $Commands)

    $settings = [System.Xml.XmlWriterSettings]::new()
    $settings.Indent = $true
    $settings.IndentChars = '  '
    $settings.Encoding = [System.Text.UTF8Encoding]::new($false)
    $settings.NewLineChars = "`n"
    $writer = [System.Xml.XmlWriter]::Create($Path, $settings)
    try {
        $writer.WriteStartDocument()
        $writer.WriteStartElement('helpItems')
        $writer.WriteAttributeString('schema', 'maml')
        foreach ($command in $Commands) { Write-Command $writer $command }
        $writer.WriteEndElement()
        $writer.WriteEndDocument()
    }
    finally {
        $writer.Dispose()
    }
}

#endregion

#region About topics

function ConvertTo-WrappedText {
    param([string] $Text, [string] $Indent, [string] $HangingIndent = $Indent, [int] $Width = 80)

    $lines = [System.Collections.Generic.List[string]]::new()
    $current = $Indent
    $fresh = $true
    foreach ($word in ($Text -split '\s+' | Where-Object { $_ })) {
        if (-not $fresh -and ($current.Length + 1 + $word.Length) -gt $Width) {
            $lines.Add($current)
            $current = $HangingIndent + $word
        }
        else {
            $current += $(if ($fresh) { '' } else { ' ' }) + $word
        }
        $fresh = $false
    }
    if (-not $fresh) { $lines.Add($current) }
    $lines
}

function Convert-AboutPage {
    param([string] $Path)

    $topic = [System.IO.Path]::GetFileNameWithoutExtension($Path)
    $doc = Read-MarkdownFile $Path
    $blocks = @($doc.Blocks)
    $ind = '    '

    $headings = @($blocks | Where-Object Kind -EQ 'Heading')
    if ($headings.Count -eq 0 -or $headings[0].Level -ne 1 -or $headings[0].Text -ne $topic -or $blocks[0] -ne $headings[0]) {
        $line = if ($blocks.Count) { $blocks[0].Line } else { 1 }
        Add-Problem $Path $line "an about page starts with '# $topic'"
        return $null
    }
    foreach ($required in 'SHORT DESCRIPTION', 'LONG DESCRIPTION') {
        if (-not ($headings | Where-Object { $_.Text.Trim() -eq $required })) {
            Add-Problem $Path $headings[0].Line "missing section '## $required'"
        }
    }

    $out = [System.Collections.Generic.List[string]]::new()
    $out.Add('TOPIC')
    $out.Add($ind + $topic.ToLowerInvariant())
    $out.Add('')
    for ($k = 1; $k -lt $blocks.Count; $k++) {
        $b = $blocks[$k]
        switch ($b.Kind) {
            'Heading' {
                # PlatyPS's template repeats the topic as '## about_X'; TOPIC already says it.
                if ($k -eq 1 -and $b.Text -eq $topic) { break }
                if ($b.Level -le 2) { $out.Add($b.Text.ToUpperInvariant()) }
                else { $out.Add('  ' + $b.Text) }
            }
            'Code' {
                foreach ($line in $b.Text -split "`n") { $out.Add(($ind + $line).TrimEnd()) }
                $out.Add('')
            }
            'Para' {
                $text = ConvertTo-ParagraphText $b.Lines
                if ($b.Lines[0] -match '^\s*\|') {
                    # Tables: align the columns.
                    $rows = @($text -split "`n" | ForEach-Object { , @($_ -split ' \| ') })
                    $widths = @(0) * ($rows | ForEach-Object { $_.Count } | Measure-Object -Maximum).Maximum
                    foreach ($row in $rows) {
                        for ($c = 0; $c -lt $row.Count; $c++) { $widths[$c] = [Math]::Max($widths[$c], $row[$c].Length) }
                    }
                    $first = $true
                    foreach ($row in $rows) {
                        $cells = for ($c = 0; $c -lt $row.Count; $c++) { $row[$c].PadRight($widths[$c]) }
                        $out.Add(($ind + ($cells -join '  ')).TrimEnd())
                        if ($first) {
                            $out.Add(($ind + (($widths | ForEach-Object { '-' * $_ }) -join '  ')))
                            $first = $false
                        }
                    }
                }
                else {
                    foreach ($piece in $text -split "`n") {
                        if ($piece -match '^(\s*(?:[-*+]|\d+[.)])\s+)(.*)$') {
                            $bullet = $Matches[1].Trim()
                            $item = $Matches[2]
                            if ($bullet -in '-', '*', '+') { $bullet = '-' }
                            $hanging = $ind + (' ' * ($bullet.Length + 1))
                            foreach ($l in ConvertTo-WrappedText $item ($ind + $bullet + ' ') $hanging) { $out.Add($l) }
                        }
                        else {
                            foreach ($l in ConvertTo-WrappedText $piece $ind) { $out.Add($l) }
                        }
                    }
                }
                $out.Add('')
            }
        }
    }
    while ($out.Count -and $out[$out.Count - 1] -eq '') { $out.RemoveAt($out.Count - 1) }
    [pscustomobject]@{ Topic = $topic; Text = ($out -join "`n") + "`n" }
}

#endregion

$docsFull = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($DocsPath)
$outFull = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutputPath)
if (-not (Test-Path -LiteralPath $docsFull -PathType Container)) {
    throw "DocsPath '$docsFull' is not a folder."
}

$commandFiles = @(Get-ChildItem -LiteralPath $docsFull -File -Filter '*.md' |
        Where-Object Name -Match '^[A-Za-z]+-[A-Za-z0-9]+\.md$' | Sort-Object Name)
$aboutFiles = @(Get-ChildItem -LiteralPath $docsFull -File -Filter 'about_*.md' | Sort-Object Name)
if ($commandFiles.Count -eq 0) {
    throw "No <Verb-Noun>.md help pages in '$docsFull'."
}

$commands = @(foreach ($f in $commandFiles) { Read-CommandPage $f.FullName $ModuleName })
$abouts = @(foreach ($f in $aboutFiles) { Convert-AboutPage $f.FullName })

if ($script:Problems.Count) {
    $message = "Help markdown in '$docsFull' has $($script:Problems.Count) problem(s); nothing was written:`n  " +
        ($script:Problems -join "`n  ")
    $record = [System.Management.Automation.ErrorRecord]::new(
        [System.IO.InvalidDataException]::new($message), 'HelpMarkdownInvalid',
        [System.Management.Automation.ErrorCategory]::InvalidData, $docsFull)
    $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($message)
    $record.ErrorDetails.RecommendedAction = 'Fix the pages at the lines named and build again.'
    $PSCmdlet.ThrowTerminatingError($record)
}

$null = New-Item -ItemType Directory -Path $outFull -Force
$mamlPath = Join-Path $outFull "$ModuleName.dll-Help.xml"
Write-MamlFile $mamlPath $commands
Get-Item -LiteralPath $mamlPath

foreach ($about in $abouts) {
    $aboutPath = Join-Path $outFull "$($about.Topic).help.txt"
    [System.IO.File]::WriteAllText($aboutPath, $about.Text, [System.Text.UTF8Encoding]::new($false))
    Get-Item -LiteralPath $aboutPath
}
